"""Operator approval (``shared/service_layer/approval.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): each refusal
text and its status, the user lock (account scope) taken before the user is read, each decision
(approve as either point of contact, reject, hold) and its idempotent repeat, every write in
order (the approval, the ``innovators`` row and its name, the cancelled follow-ups, the welcome or
the rejection queued, the closed conversation, the upgrade check, the ``agent_actions_log`` row),
the ``user.verified`` event kept only on commit, the returned ``Decision`` and the log lines.
``RecordingUow`` stands in for ``PostgresUnitOfWork``; ``cancel_followups``, ``queue_message`` and
``schedule_upgrade_check`` (tested elsewhere, with no injection point here) are recorded in the
same ``UowLog``. The SQL behind it is tested on Postgres (tests/integration/test_approval.py).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.repositories import ActionRecord, User, UserLock
from shared.adapters.repositories.users import PendingMember
from shared.agents.concierge.prompts import WELCOME, WELCOME_QUESTION
from shared.agents.innovator.prompts import WELCOME as INNOVATOR_WELCOME
from shared.domain.events import Event
from shared.service_layer import approval
from shared.service_layer.approval import (
    APPROVE_AS,
    PENDING_LIST_LIMIT,
    REJECTION_MESSAGE,
    ApprovalError,
    Decision,
    approve,
    hold,
    pending,
    reject,
)
from tests.fakes.rows import user_row
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.approval"
USER_ID = UUID("00000000-0000-0000-0000-0000000000aa")
CONVERSATION_ID = UUID("00000000-0000-0000-0000-0000000000cc")
PHONE = "+14155550100"
NOW = datetime(2026, 3, 4, 9, 7, tzinfo=UTC)


def user(**changes: Any) -> User:
    return replace(
        user_row(
            USER_ID,
            NOW,
            phone_number=PHONE,
            company="Acme",
            title="CTO",
            email="ada@acme.example",
            email_verified=True,
            poc_agent_type="bouncer",
            onboarding_completed_at=NOW,
            approval_status="pending",
        ),
        **changes,
    )


class World:
    """The repositories approval touches, scripted, and the collaborators it calls, recorded."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, found: User | None, *, conversation: bool = True
    ) -> None:
        self.log = UowLog()
        self.users = ScriptedRepo(
            "users",
            self.log,
            id_by_phone=None if found is None else found.id,
            lock=None,
            get=found,
            approve=True,
            set_approval_status=True,
        )
        self.innovators = ScriptedRepo("innovators", self.log, add=None)
        self.conversations = ScriptedRepo(
            "conversations",
            self.log,
            latest_for_user=SimpleNamespace(id=CONVERSATION_ID) if conversation else None,
            set_status=True,
        )
        self.actions = ScriptedRepo("actions", self.log, record=None)
        for name in ("cancel_followups", "queue_message", "schedule_upgrade_check"):
            monkeypatch.setattr(approval, name, self.recorder(name))

    def recorder(self, name: str) -> Any:
        def record(uow: object, *args: Any, **kwargs: Any) -> None:
            assert isinstance(uow, RecordingUow)
            self.log.calls.append(Call("approval", name, args, kwargs))

        return record

    def factory(self) -> Any:
        return uow_factory(
            self.log,
            users=self.users,
            innovators=self.innovators,
            conversations=self.conversations,
            actions=self.actions,
        )

    def one(self, repo: str, method: str) -> Call:
        [call] = self.log.of(repo, method)
        return call


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def refusal(run: Any) -> ApprovalError:
    with pytest.raises(ApprovalError) as info:
        run()
    return info.value


# --- refusals common to every decision --------------------------------------------------------


def test_approve_as_is_the_points_of_contact_but_the_bouncer() -> None:
    assert APPROVE_AS == ("concierge", "innovator")


def test_approving_as_anything_else_is_refused_before_any_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch, user())
    error = refusal(lambda: approve(PHONE, "bouncer", operator="ops", uow_factory=world.factory()))
    assert str(error) == "--as must be one of concierge, innovator, not 'bouncer'"
    assert error.status == 400
    assert world.log.entered == 0


@pytest.mark.parametrize("decide", ["approve", "reject", "hold"])
def test_a_bad_phone_number_is_refused_before_any_transaction(
    monkeypatch: pytest.MonkeyPatch, decide: str
) -> None:
    world = World(monkeypatch, user())
    runs = {
        "approve": lambda: approve("abc", "concierge", operator="ops", uow_factory=world.factory()),
        "reject": lambda: reject("abc", operator="ops", uow_factory=world.factory()),
        "hold": lambda: hold("abc", operator="ops", uow_factory=world.factory()),
    }
    error = refusal(runs[decide])
    assert str(error) == "not a phone number: the string supplied did not seem to be a phone number"
    assert error.status == 400
    assert error.__cause__ is None and error.__suppress_context__
    assert world.log.entered == 0


@pytest.mark.parametrize("decide", ["approve", "reject", "hold"])
def test_an_unknown_phone_number_is_404_without_a_lock(monkeypatch: pytest.MonkeyPatch, decide: str) -> None:
    world = World(monkeypatch, None)
    runs = {
        "approve": lambda: approve(
            "+1 (415) 555-0100", "concierge", operator="ops", uow_factory=world.factory()
        ),
        "reject": lambda: reject("+1 (415) 555-0100", operator="ops", uow_factory=world.factory()),
        "hold": lambda: hold("+1 (415) 555-0100", operator="ops", uow_factory=world.factory()),
    }
    error = refusal(runs[decide])
    assert str(error) == f"no user with phone number {PHONE}"
    assert error.status == 404
    assert world.log.methods() == ["users.id_by_phone"]
    assert world.one("users", "id_by_phone").args == (PHONE,)
    assert world.log.commits == 0


def test_a_user_gone_once_locked_is_404(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, None)
    world.users.answer("id_by_phone", USER_ID)
    error = refusal(lambda: hold(PHONE, operator="ops", uow_factory=world.factory()))
    assert (str(error), error.status) == (f"no user with phone number {PHONE}", 404)
    assert world.log.methods() == ["users.id_by_phone", "users.lock", "users.get"]
    assert world.log.commits == 0


def test_an_approval_error_is_a_400_unless_told() -> None:
    assert ApprovalError("x").status == 400
    assert ApprovalError("x", status=409).status == 409
    assert str(ApprovalError("why")) == "why"


# --- approve ----------------------------------------------------------------------------------


def test_approving_as_concierge_writes_everything_in_order_and_commits(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user())
    decision = approve("+1 (415) 555-0100", "concierge", operator="ops", uow_factory=world.factory(), now=NOW)
    assert decision == Decision(USER_ID, PHONE, "approved", "concierge", changed=True)
    assert world.log.methods() == [
        "users.id_by_phone",
        "users.lock",
        "users.get",
        "users.approve",
        "approval.cancel_followups",
        "conversations.latest_for_user",
        "approval.queue_message",
        "approval.schedule_upgrade_check",
        "actions.record",
    ]
    assert world.one("users", "id_by_phone").args == (PHONE,)
    assert world.one("users", "lock").args == (USER_ID, UserLock.ACCOUNT)
    assert world.one("users", "get").args == (USER_ID,)
    assert world.one("users", "approve").args == (USER_ID, "concierge")
    cancel = world.one("approval", "cancel_followups")
    assert (cancel.args, cancel.kwargs) == ((USER_ID,), {"reason": "approved"})
    assert world.one("conversations", "latest_for_user").args == (USER_ID,)
    welcome = world.one("approval", "queue_message")
    assert welcome.args == ()
    assert welcome.kwargs == {
        "user_id": USER_ID,
        "agent_id": "concierge",
        "now": NOW,
        "parts": [WELCOME, WELCOME_QUESTION],
        "message_data": {"kind": "welcome", "asks": "goal"},
        "priority": "high",
        "can_delay": False,
        "conversation_id": CONVERSATION_ID,
    }
    upgrade = world.one("approval", "schedule_upgrade_check")
    assert (upgrade.args, upgrade.kwargs) == ((USER_ID, NOW), {"created_by": "operator:ops"})
    assert world.one("actions", "record").args == (
        ActionRecord(
            agent_type="operator",
            action_type="approval_approved",
            user_id=USER_ID,
            context_type="approval",
            input_data={"operator": "ops", "poc_agent_type": "concierge"},
            output_data={"approval_status": "approved"},
        ),
    )
    assert world.log.commits == 1
    assert world.log.committed_events == [
        Event(
            event_type="user.verified",
            aggregate_type="user",
            aggregate_id=USER_ID,
            payload={
                "user_id": str(USER_ID),
                "poc_agent_type": "concierge",
                "verification_completed_at": NOW.isoformat(),
                "approved_by": "ops",
            },
            created_by="operator:ops",
        )
    ]
    [record] = records(caplog, "user approved")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]
    assert record.poc_agent_type == "concierge"  # type: ignore[attr-defined]
    assert record.operator == "ops"  # type: ignore[attr-defined]


def test_approving_as_innovator_adds_the_innovator_and_the_innovator_welcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch, user(company="Acme Corp"))
    decision = approve(PHONE, "innovator", operator="ana", uow_factory=world.factory(), now=NOW)
    assert decision == Decision(USER_ID, PHONE, "approved", "innovator", changed=True)
    assert world.log.methods()[3:6] == ["users.approve", "innovators.add", "approval.cancel_followups"]
    assert world.one("users", "approve").args == (USER_ID, "innovator")
    assert world.one("innovators", "add").args == (USER_ID, "Acme Corp")
    welcome = world.one("approval", "queue_message")
    assert welcome.kwargs["agent_id"] == "innovator"
    assert welcome.kwargs["parts"] == [INNOVATOR_WELCOME, WELCOME_QUESTION]
    [event] = world.log.committed_events
    assert event.payload["poc_agent_type"] == "innovator"
    assert event.payload["approved_by"] == "ana"
    assert event.created_by == "operator:ana"
    [action] = world.one("actions", "record").args
    assert action.input_data == {"operator": "ana", "poc_agent_type": "innovator"}


@pytest.mark.parametrize(
    ("first", "last", "company", "name"),
    [
        ("Ada", "Lovelace", None, "Ada Lovelace"),
        ("Ada", None, None, "Ada"),
        (None, "Lovelace", None, "Lovelace"),
        (None, None, None, "unknown"),
        (None, None, "", "unknown"),
        ("Ada", "Lovelace", "Acme", "Acme"),
    ],
)
def test_the_innovators_name_is_the_company_else_the_persons_name_else_unknown(
    monkeypatch: pytest.MonkeyPatch, first: str | None, last: str | None, company: str | None, name: str
) -> None:
    world = World(monkeypatch, user(first_name=first, last_name=last, company=company))
    approve(PHONE, "innovator", operator="ops", uow_factory=world.factory(), now=NOW)
    assert world.one("innovators", "add").args == (USER_ID, name)


def test_a_repeated_approval_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user(verified=True, poc_agent_type="concierge", approval_status="approved"))
    decision = approve(PHONE, "concierge", operator="ops", uow_factory=world.factory(), now=NOW)
    assert decision == Decision(USER_ID, PHONE, "approved", "concierge", changed=False)
    assert world.log.methods() == ["users.id_by_phone", "users.lock", "users.get"]
    assert world.log.commits == 0 and world.log.committed_events == []
    assert records(caplog, "user approved") == []


def test_a_member_can_be_approved_again_as_the_other_point_of_contact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch, user(verified=True, poc_agent_type="concierge", approval_status="approved"))
    decision = approve(PHONE, "innovator", operator="ops", uow_factory=world.factory(), now=NOW)
    assert decision.changed is True
    assert world.one("users", "approve").args == (USER_ID, "innovator")
    assert world.log.commits == 1


def test_an_unverified_user_already_on_that_agent_is_still_approved(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(verified=False, poc_agent_type="concierge"))
    assert approve(PHONE, "concierge", operator="ops", uow_factory=world.factory(), now=NOW).changed is True
    assert world.log.commits == 1


def test_an_approval_the_database_refuses_fails_without_committing(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user())
    world.users.answer("approve", False)
    with pytest.raises(AssertionError):
        approve(PHONE, "concierge", operator="ops", uow_factory=world.factory(), now=NOW)
    assert world.log.commits == 0
    assert world.log.methods()[-1] == "users.approve"


def test_an_opted_out_user_is_approved_without_a_welcome(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(opted_out=True))
    approve(PHONE, "concierge", operator="ops", uow_factory=world.factory(), now=NOW)
    assert "approval.queue_message" not in world.log.methods()
    assert "conversations.latest_for_user" not in world.log.methods()
    assert len(world.log.of("approval", "schedule_upgrade_check")) == 1
    assert len(world.log.committed_events) == 1


def test_the_welcome_without_a_conversation_has_no_conversation_id(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(), conversation=False)
    approve(PHONE, "concierge", operator="ops", uow_factory=world.factory(), now=NOW)
    assert world.one("approval", "queue_message").kwargs["conversation_id"] is None


def test_approval_without_a_time_uses_now(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user())
    before = datetime.now(UTC)
    approve(PHONE, "concierge", operator="ops", uow_factory=world.factory())
    after = datetime.now(UTC)
    at = world.one("approval", "queue_message").kwargs["now"]
    assert before <= at <= after
    assert world.one("approval", "schedule_upgrade_check").args[1] == at
    [event] = world.log.committed_events
    assert event.payload["verification_completed_at"] == at.isoformat()


# --- reject -----------------------------------------------------------------------------------


def test_rejecting_closes_the_conversation_with_one_polite_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user())
    before = datetime.now(UTC)
    decision = reject("+1 (415) 555-0100", operator="ops", uow_factory=world.factory())
    after = datetime.now(UTC)
    assert decision == Decision(USER_ID, PHONE, "rejected", "bouncer", changed=True)
    assert world.log.methods() == [
        "users.id_by_phone",
        "users.lock",
        "users.get",
        "users.set_approval_status",
        "approval.cancel_followups",
        "conversations.latest_for_user",
        "approval.queue_message",
        "conversations.set_status",
        "actions.record",
    ]
    assert world.one("users", "lock").args == (USER_ID, UserLock.ACCOUNT)
    assert world.one("users", "set_approval_status").args == (USER_ID, "rejected")
    cancel = world.one("approval", "cancel_followups")
    assert (cancel.args, cancel.kwargs) == ((USER_ID,), {"reason": "rejected"})
    assert world.one("conversations", "latest_for_user").args == (USER_ID,)
    message = world.one("approval", "queue_message")
    sent_at = message.kwargs.pop("now")
    assert before <= sent_at <= after and sent_at.tzinfo is not None
    assert message.args == ()
    assert message.kwargs == {
        "user_id": USER_ID,
        "agent_id": "bouncer",
        "parts": [REJECTION_MESSAGE],
        "message_data": {"kind": "rejection"},
        "priority": "high",
        "can_delay": False,
        "requires_fresh_context": False,
        "conversation_id": CONVERSATION_ID,
    }
    assert world.one("conversations", "set_status").args == (CONVERSATION_ID, "closed")
    assert world.one("actions", "record").args == (
        ActionRecord(
            agent_type="operator",
            action_type="approval_rejected",
            user_id=USER_ID,
            context_type="approval",
            input_data={"operator": "ops"},
            output_data={"approval_status": "rejected"},
        ),
    )
    assert world.log.commits == 1 and world.log.committed_events == []
    [record] = records(caplog, "user rejected")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]
    assert record.operator == "ops"  # type: ignore[attr-defined]


def test_the_rejection_message_is_short_and_polite() -> None:
    assert REJECTION_MESSAGE == (
        "Thanks for your patience. We can't offer you a spot right now, so I'm closing out this invite."
    )


def test_rejecting_an_opted_out_user_sends_nothing_and_leaves_the_conversation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch, user(opted_out=True))
    assert reject(PHONE, operator="ops", uow_factory=world.factory()).changed is True
    assert "approval.queue_message" not in world.log.methods()
    assert "conversations.set_status" not in world.log.methods()
    assert world.log.methods()[-1] == "actions.record"
    assert world.log.commits == 1


def test_rejecting_without_a_conversation_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(), conversation=False)
    reject(PHONE, operator="ops", uow_factory=world.factory())
    assert "approval.queue_message" not in world.log.methods()
    assert "conversations.set_status" not in world.log.methods()
    assert world.log.commits == 1


def test_rejecting_a_member_is_409(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(verified=True, poc_agent_type="concierge"))
    error = refusal(lambda: reject(PHONE, operator="ops", uow_factory=world.factory()))
    assert str(error) == "this user is already approved; rejecting a member is not supported"
    assert error.status == 409
    assert world.log.methods() == ["users.id_by_phone", "users.lock", "users.get"]
    assert world.log.commits == 0


def test_a_repeated_rejection_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user(approval_status="rejected", poc_agent_type="bouncer"))
    decision = reject(PHONE, operator="ops", uow_factory=world.factory())
    assert decision == Decision(USER_ID, PHONE, "rejected", "bouncer", changed=False)
    assert world.log.methods() == ["users.id_by_phone", "users.lock", "users.get"]
    assert world.log.commits == 0
    assert records(caplog, "user rejected") == []


def test_a_user_on_hold_can_be_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(approval_status="on_hold"))
    assert reject(PHONE, operator="ops", uow_factory=world.factory()).changed is True
    assert world.log.commits == 1


# --- hold -------------------------------------------------------------------------------------


def test_holding_parks_the_user_with_the_bouncer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user())
    decision = hold("+1 (415) 555-0100", operator="ops", uow_factory=world.factory())
    assert decision == Decision(USER_ID, PHONE, "on_hold", "bouncer", changed=True)
    assert world.log.methods() == [
        "users.id_by_phone",
        "users.lock",
        "users.get",
        "users.set_approval_status",
        "actions.record",
    ]
    assert world.one("users", "lock").args == (USER_ID, UserLock.ACCOUNT)
    assert world.one("users", "set_approval_status").args == (USER_ID, "on_hold")
    assert world.one("actions", "record").args == (
        ActionRecord(
            agent_type="operator",
            action_type="approval_on_hold",
            user_id=USER_ID,
            context_type="approval",
            input_data={"operator": "ops"},
            output_data={"approval_status": "on_hold"},
        ),
    )
    assert world.log.commits == 1 and world.log.committed_events == []
    [record] = records(caplog, "user put on hold")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]
    assert record.operator == "ops"  # type: ignore[attr-defined]


def test_holding_a_member_is_409(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(verified=True, poc_agent_type="innovator"))
    error = refusal(lambda: hold(PHONE, operator="ops", uow_factory=world.factory()))
    assert str(error) == "this user is already approved"
    assert error.status == 409
    assert world.log.commits == 0


def test_a_repeated_hold_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user(approval_status="on_hold"))
    decision = hold(PHONE, operator="ops", uow_factory=world.factory())
    assert decision == Decision(USER_ID, PHONE, "on_hold", "bouncer", changed=False)
    assert world.log.methods() == ["users.id_by_phone", "users.lock", "users.get"]
    assert world.log.commits == 0
    assert records(caplog, "user put on hold") == []


def test_a_rejected_user_can_be_put_on_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(approval_status="rejected"))
    assert hold(PHONE, operator="ops", uow_factory=world.factory()).changed is True


# --- pending and the decision's JSON ----------------------------------------------------------


def member(**changes: Any) -> PendingMember:
    base = PendingMember(
        id=USER_ID,
        phone_number=PHONE,
        first_name="Ada",
        last_name=None,
        company="Acme",
        title=None,
        email=None,
        email_verified=False,
        referred_by=CONVERSATION_ID,
        name_dropped=None,
        approval_status="pending",
        onboarding_completed_at=NOW,
        created_at=NOW,
    )
    return replace(base, **changes)


def test_pending_lists_json_ready_members_up_to_the_limit() -> None:
    assert PENDING_LIST_LIMIT == 200
    log = UowLog()
    users = ScriptedRepo(
        "users", log, pending_approval=[member(), member(referred_by=None, onboarding_completed_at=None)]
    )
    rows = pending(uow_factory=uow_factory(log, users=users))
    assert log.of("users", "pending_approval") == [Call("users", "pending_approval", (), {"limit": 200})]
    assert rows[0] == {
        "id": str(USER_ID),
        "phone_number": PHONE,
        "first_name": "Ada",
        "last_name": None,
        "company": "Acme",
        "title": None,
        "email": None,
        "email_verified": False,
        "referred_by": str(CONVERSATION_ID),
        "name_dropped": None,
        "approval_status": "pending",
        "onboarding_completed_at": NOW.isoformat(sep=" "),
        "created_at": str(NOW),
    }
    assert rows[1]["referred_by"] is None and rows[1]["onboarding_completed_at"] is None
    assert log.entered == 1


def test_pending_passes_a_given_limit() -> None:
    log = UowLog()
    users = ScriptedRepo("users", log, pending_approval=[])
    assert pending(limit=3, uow_factory=uow_factory(log, users=users)) == []
    assert log.of("users", "pending_approval")[0].kwargs == {"limit": 3}


def test_a_decision_as_json() -> None:
    assert Decision(USER_ID, PHONE, "approved", "concierge", changed=True).as_dict() == {
        "user_id": str(USER_ID),
        "phone_number": PHONE,
        "approval_status": "approved",
        "poc_agent_type": "concierge",
        "changed": True,
    }
