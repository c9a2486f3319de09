"""Prospect upgrade (``shared/service_layer/prospects.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "prospects.py" in the service
layer; ``tests/unit/test_mut_prospects.py`` is the domain's file): the task approval schedules
(type, agent, dedupe key), who is matched (a verified member only, their email only when
verified), each prospect's fields as they are compared, the three outcomes by score (converted
at 70 and above with the connection request, its event and the 25 credits; flagged for review at
40-69 with the review's fields; nothing below 40), a prospect converted before, and the log line
every score writes. ``RecordingUow`` (tests/fakes/uow.py) stands in for ``PostgresUnitOfWork``;
the SQL is tested on Postgres (tests/integration/test_intros.py, test_innovator_offline_commerce.py).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

import pytest

from shared.adapters.repositories.credits import LedgerEntry, NewLedgerEntry
from shared.adapters.repositories.offers import NewConnectionRequest, ProspectRow
from shared.adapters.repositories.tasks import NewTask
from shared.adapters.repositories.users import User
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain import events as ev
from shared.domain.constants import CONNECTION_REQUEST_EXPIRY, PROSPECT_CONVERSION_CREDITS, TASK_MAX_RETRIES
from shared.domain.prospect_matching import REVIEW_THRESHOLD, UPGRADE_THRESHOLD
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps
from shared.service_layer.prospects import (
    AGENT,
    UPGRADE_TASK,
    handle_upgrade_task,
    schedule_upgrade_check,
    upgrade_prospects,
)
from tests.fakes.rows import user_row
from tests.fakes.uow import RecordingUow, ScriptedRepo, UowLog

LOGGER = "shared.service_layer.prospects"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
MEMBER = UUID("00000000-0000-0000-0000-0000000000a1")
INNOVATOR = UUID("00000000-0000-0000-0000-0000000000b1")
OTHER_INNOVATOR = UUID("00000000-0000-0000-0000-0000000000b2")
PROSPECT = UUID("00000000-0000-0000-0000-0000000000c1")
PROSPECT_2 = UUID("00000000-0000-0000-0000-0000000000c2")
REQUEST = UUID("00000000-0000-0000-0000-0000000000d1")
LEDGER_ROW = UUID("00000000-0000-0000-0000-0000000000e1")
TASK = UUID("00000000-0000-0000-0000-0000000000f1")


def test_the_spec_thresholds() -> None:
    assert (UPGRADE_THRESHOLD, REVIEW_THRESHOLD, PROSPECT_CONVERSION_CREDITS) == (70, 40, 25)
    assert (UPGRADE_TASK, AGENT) == ("prospect_upgrade_check", "intro")


# --- scheduling ----------------------------------------------------------------------------------


def test_approval_schedules_one_upgrade_check_per_member_as_the_intro_agents_task() -> None:
    log = UowLog()
    uow = RecordingUow(log, tasks=ScriptedRepo("tasks", log, add=TASK))
    schedule_upgrade_check(uow.as_postgres(), MEMBER, NOW, created_by="approval")
    [call] = log.calls
    assert (call.repo, call.method) == ("tasks", "add")
    assert call.args == (
        NewTask(
            task_type="prospect_upgrade_check",
            agent_type="intro",
            user_id=MEMBER,
            scheduled_for=NOW,
            priority="medium",
            context_json={},
            context_id=None,
            context_type=None,
            created_by="approval",
            dedupe_key=f"prospect_upgrade_check:{MEMBER}",
            max_retries=TASK_MAX_RETRIES,
        ),
    )


# --- matching ------------------------------------------------------------------------------------


def member(**changes: Any) -> User:
    return dataclasses.replace(
        user_row(
            MEMBER,
            NOW - timedelta(days=1),
            phone_number="+14155550123",
            company="Analytical Engines",
            title="Countess",
            email="ada.lovelace@engines.example",
            email_verified=True,
            verified=True,
            approval_status="approved",
        ),
        **changes,
    )


def prospect(
    prospect_id: UUID = PROSPECT,
    innovator_id: UUID = INNOVATOR,
    *,
    email: str | None = None,
    phone: str | None = None,
    linkedin_url: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
) -> ProspectRow:
    return ProspectRow(prospect_id, innovator_id, email, phone, linkedin_url, first_name, last_name, company)


class Shell:
    """One unit of work over the repositories ``upgrade_prospects`` uses, every call recorded."""

    def __init__(
        self,
        user: object | None,
        candidates: list[ProspectRow],
        *,
        converts: bool = True,
        made: tuple[UUID, bool] | None = (REQUEST, True),
    ) -> None:
        self.log = UowLog()
        self.users = ScriptedRepo("users", self.log, get=user)
        self.intros = ScriptedRepo(
            "intro_offers",
            self.log,
            prospect_candidates=candidates,
            convert_prospect=lambda *a: converts,
            flag_prospect_for_review=lambda *a: True,
            add_connection_request=lambda *a: made,
        )
        self.credits = ScriptedRepo("credits", self.log, append=self.ledger_row)
        self.uow = RecordingUow(self.log, users=self.users, intro_offers=self.intros, credits=self.credits)

    @staticmethod
    def ledger_row(entry: NewLedgerEntry) -> LedgerEntry:
        return LedgerEntry(
            id=LEDGER_ROW,
            user_id=entry.user_id,
            event_type=entry.event_type,
            amount=entry.amount,
            reference_type=entry.reference_type,
            reference_id=entry.reference_id,
            idempotency_key=entry.idempotency_key,
            description=entry.description,
            recorded_by=entry.recorded_by,
            created_at=NOW,
        )

    def run(self) -> dict[str, Any]:
        with self.uow as uow:
            result = upgrade_prospects(uow.as_postgres(), MEMBER, NOW)
            uow.commit()
        return result

    def args(self, repo: str, method: str) -> list[tuple[Any, ...]]:
        return [c.args for c in self.log.of(repo, method)]


def converted(prospect_id: UUID = PROSPECT, innovator_id: UUID = INNOVATOR) -> list[tuple[str, Any]]:
    """The calls and rows a conversion writes: the connection request and the ledger row."""
    return [
        (
            "add_connection_request",
            NewConnectionRequest(
                user_id=innovator_id,
                target_user_id=MEMBER,
                intro_context="You were on their list of people they hoped to meet, and you just joined.",
                bounty_credits=0,
                expires_at=NOW + CONNECTION_REQUEST_EXPIRY,
            ),
        ),
        (
            "append",
            NewLedgerEntry(
                user_id=innovator_id,
                event_type="prospect_converted",
                amount=PROSPECT_CONVERSION_CREDITS,
                reference_type="prospect",
                reference_id=prospect_id,
                idempotency_key=f"prospect_converted_{prospect_id}_{innovator_id}",
                description="A prospect you uploaded joined",
                recorded_by="intro",
            ),
        ),
    ]


def request_event(prospect_id: UUID = PROSPECT, innovator_id: UUID = INNOVATOR) -> ev.Event:
    return ev.Event(
        event_type="connection.request_created",
        aggregate_type="connection_request",
        aggregate_id=REQUEST,
        payload={
            "connection_request_id": str(REQUEST),
            "user_id": str(innovator_id),
            "acting_agent_type": "intro",
            "status": "open",
            "requestor_user_id": str(innovator_id),
            "introducee_user_id": str(MEMBER),
            "prospect_id": str(prospect_id),
            "reason": "prospect_converted",
        },
        created_by="intro",
    )


def writes(shell: Shell) -> list[tuple[str, Any]]:
    return [
        (c.method, c.args[0]) for c in shell.log.calls if c.method in ("add_connection_request", "append")
    ]


@pytest.mark.parametrize(
    "candidate",
    [
        prospect(email="ada.lovelace@engines.example"),
        prospect(email=" ADA.LOVELACE@engines.example "),
        prospect(phone="+1 (415) 555-0123"),
        prospect(email="Ada-Lovelace+x@engines.example"),  # normalised email: 80
        prospect(
            first_name="ada", last_name="LOVELACE", email="someone@engines.example"
        ),  # name + domain: 70
    ],
)
def test_a_prospect_at_or_above_70_is_converted_with_a_connection_request_its_event_and_25_credits(
    candidate: ProspectRow,
) -> None:
    shell = Shell(member(), [candidate])
    assert shell.run() == {"upgraded": 1, "review": 0}
    assert shell.args("users", "get") == [(MEMBER,)]
    assert shell.args("intro_offers", "prospect_candidates") == [(MEMBER,)]
    assert shell.args("intro_offers", "convert_prospect") == [(PROSPECT, MEMBER, NOW)]
    assert writes(shell) == converted()
    assert shell.log.of("intro_offers", "flag_prospect_for_review") == []
    assert shell.log.committed_events == [request_event()]


def test_a_member_with_a_linkedin_profile_matches_a_prospect_on_it() -> None:
    user = SimpleNamespace(**{**dataclasses.asdict(member()), "linkedin_url": "https://linkedin.com/in/ada/"})
    shell = Shell(user, [prospect(linkedin_url="https://www.linkedin.com/in/ada")])
    assert shell.run() == {"upgraded": 1, "review": 0}


def test_a_member_record_without_a_linkedin_field_never_matches_on_linkedin() -> None:
    shell = Shell(member(phone_number="+14155550199"), [prospect(linkedin_url="XXXX")])
    assert shell.run() == {"upgraded": 0, "review": 0}


def test_name_and_company_scores_60_and_is_flagged_for_an_operator_with_its_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    shell = Shell(member(), [prospect(first_name="Ada", last_name="Lovelace", company="analytical-engines")])
    assert shell.run() == {"upgraded": 0, "review": 1}
    assert shell.args("intro_offers", "flag_prospect_for_review") == [
        (
            PROSPECT,
            {"user_id": str(MEMBER), "score": 60, "fields": ["name", "company"], "at": NOW.isoformat()},
        )
    ]
    assert shell.log.of("intro_offers", "convert_prospect") == []
    assert writes(shell) == [] and shell.log.committed_events == []
    [line] = [r for r in caplog.records if r.name == LOGGER and r.getMessage() == "prospect match scored"]
    assert line.levelno == logging.INFO
    assert {k: getattr(line, k) for k in ("user_id", "prospect_id", "score", "fields")} == {
        "user_id": str(MEMBER),
        "prospect_id": str(PROSPECT),
        "score": 60,
        "fields": ["name", "company"],
    }


@pytest.mark.parametrize(
    "candidate",
    [
        prospect(first_name="Ada", last_name="Lovelace"),  # the name alone: 0
        prospect(email="grace@navy.example", company="Analytical Engines"),
        prospect(),
    ],
)
def test_below_40_nothing_is_converted_or_flagged(candidate: ProspectRow) -> None:
    shell = Shell(member(), [candidate])
    assert shell.run() == {"upgraded": 0, "review": 0}
    assert shell.log.methods() == ["users.get", "intro_offers.prospect_candidates"]


def test_an_unverified_email_is_not_compared() -> None:
    shell = Shell(member(email_verified=False), [prospect(email="ada.lovelace@engines.example")])
    assert shell.run() == {"upgraded": 0, "review": 0}
    # and without its domain, the name needs the company
    shell = Shell(
        member(email_verified=False),
        [prospect(first_name="Ada", last_name="Lovelace", email="x@engines.example")],
    )
    assert shell.run() == {"upgraded": 0, "review": 0}


@pytest.mark.parametrize("user", [None, member(verified=False)])
def test_only_a_verified_member_is_matched(user: User | None) -> None:
    shell = Shell(user, [prospect(email="ada.lovelace@engines.example")])
    assert shell.run() == {"upgraded": 0, "review": 0, "reason": "not a verified member"}
    assert shell.log.methods() == ["users.get"]


def test_a_prospect_converted_before_is_neither_paid_nor_flagged_again() -> None:
    shell = Shell(member(), [prospect(email="ada.lovelace@engines.example")], converts=False)
    assert shell.run() == {"upgraded": 0, "review": 0}
    assert shell.log.methods() == [
        "users.get",
        "intro_offers.prospect_candidates",
        "intro_offers.convert_prospect",
    ]
    assert shell.log.committed_events == []


@pytest.mark.parametrize("made", [None, (REQUEST, False)])
def test_without_a_new_connection_request_no_event_is_emitted_but_the_credits_are_paid(
    made: tuple[UUID, bool] | None,
) -> None:
    shell = Shell(member(), [prospect(email="ada.lovelace@engines.example")], made=made)
    assert shell.run() == {"upgraded": 1, "review": 0}
    assert writes(shell) == converted()
    assert shell.log.committed_events == []


def test_each_prospect_is_scored_and_counted_for_its_own_innovator(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    candidates = [
        prospect(PROSPECT, INNOVATOR, phone="+14155550123"),
        prospect(PROSPECT_2, OTHER_INNOVATOR, email="ada.lovelace@engines.example", phone="+14155550123"),
        prospect(
            PROSPECT, OTHER_INNOVATOR, first_name="Ada", last_name="Lovelace", company="Analytical Engines"
        ),
        prospect(
            PROSPECT_2, INNOVATOR, first_name="Ada", last_name="Lovelace", company="The Analytical Engines"
        ),
    ]
    shell = Shell(member(), candidates)
    assert shell.run() == {"upgraded": 2, "review": 2}
    assert writes(shell) == converted(PROSPECT, INNOVATOR) + converted(PROSPECT_2, OTHER_INNOVATOR)
    assert shell.log.committed_events == [
        request_event(PROSPECT, INNOVATOR),
        request_event(PROSPECT_2, OTHER_INNOVATOR),
    ]
    lines = [r for r in caplog.records if r.name == LOGGER and r.getMessage() == "prospect match scored"]
    assert [(r.prospect_id, r.score, r.fields) for r in lines] == [  # type: ignore[attr-defined]
        (str(PROSPECT), 100, ["phone"]),
        (str(PROSPECT_2), 100, ["email", "phone"]),
        (str(PROSPECT), 60, ["name", "company"]),
        (str(PROSPECT_2), 60, ["name", "company"]),
    ]


# --- the task ------------------------------------------------------------------------------------


def delivery(user_id: UUID | None) -> Delivery:
    return Delivery(
        kind="task",
        id=TASK,
        type=UPGRADE_TASK,
        attempt=1,
        published_at=NOW,
        data={},
        attributes={},
        user_id=user_id,
    )


def test_the_task_upgrades_its_member_at_the_clocks_time() -> None:
    shell = Shell(member(), [prospect(email="ada.lovelace@engines.example")])
    deps = cast(Deps, SimpleNamespace(clock=lambda: NOW))
    with shell.uow as uow:
        assert handle_upgrade_task(delivery(MEMBER), uow.as_postgres(), deps) == {"upgraded": 1, "review": 0}
    assert shell.args("users", "get") == [(MEMBER,)]
    assert shell.args("intro_offers", "convert_prospect") == [(PROSPECT, MEMBER, NOW)]


def test_a_task_without_a_member_fails_permanently() -> None:
    shell = Shell(member(), [])
    deps = cast(Deps, SimpleNamespace(clock=lambda: NOW))
    with pytest.raises(PermanentError, match=r"^prospect_upgrade_check without a member$"):
        handle_upgrade_task(delivery(None), cast(PostgresUnitOfWork, shell.uow), deps)
    assert shell.log.calls == []
