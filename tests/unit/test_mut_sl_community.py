"""Community requests' use cases (``shared/service_layer/community.py``), example by example, over
the shared recording unit of work (``tests/fakes/uow.py``).

Written against the mutmut survivors of that module (docs/testing.md): parsing
``community.request_needed`` (snake and camelCase fields, defaults, bounds); routing (the category
lock, the duplicate look-up's window, matching's pool, the requester and the per-day load cap
skipped with the next candidate taking the place, at most five experts, the inserted row, one ask
and one Account Manager task per expert, the routed / no-experts / attached events and the log
lines); the expert's reply (pass, a referral with every reason it is stored for an operator, an
answer recorded once, a late answer refused); the answer's routing to its requesters, its score
(model or operator) and credits on both sides of 7; closure and cancellation. The same use cases
against real Postgres are ``tests/integration/test_community.py``.

Repositories are ``ScriptedRepo``s: every call is recorded with its arguments and an unexpected
call fails the test. ``create_task`` and ``credits.award`` run for real over them
(``uow.tasks.add``, ``uow.credits.append``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.llm import LlmUnavailable
from shared.adapters.repositories.community_requests import (
    DueRequest,
    InsertedRequest,
    LockedRequest,
    NewCommunityRequest,
    OpenDuplicate,
    Requester,
)
from shared.adapters.repositories.community_responses import LockedResponse, RecordedResponse
from shared.adapters.repositories.credits import LedgerEntry, NewLedgerEntry
from shared.adapters.repositories.tasks import NewTask
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.agent_of_humans.scoring import IMPACT_CONTEXT, IMPACT_VALUABLE
from shared.domain.community import OPEN_STATUSES, Candidate
from shared.domain.constants import (
    COMMUNITY_CANDIDATE_POOL,
    COMMUNITY_CLOSURE_BATCH,
    COMMUNITY_DUPLICATE_WINDOW,
    COMMUNITY_MAX_EXPERTS,
    COMMUNITY_REQUEST_EXPIRY,
    COMMUNITY_SUMMARY_MAX_CHARS,
    COMMUNITY_VERBATIM_MAX_CHARS,
    EXPERT_ANSWER_CREDITS_MENTIONED,
    EXPERT_IMPACT_NOTICE_DELAY,
    TASK_MAX_RETRIES,
)
from shared.domain.events import Event
from shared.service_layer.community import (
    REFUSED_REPLY,
    THANK_YOU,
    AlreadyScored,
    NotARequester,
    RequestNeeded,
    UnknownRequest,
    cancel_request,
    close_due_requests,
    handle_expert_reply,
    handle_request_needed,
    handle_response_received,
    parse_request_needed,
    process_response,
    route_request,
    run_closure,
    score_response,
)
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps
from tests.fakes.llm import ScriptedLlm
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog, uow_factory

NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # noon in New York: nobody's quiet hours
LOGGER = "shared.service_layer.community"
REQUESTER = UUID("11111111-1111-4111-8111-111111111111")
REQUEST = UUID("22222222-2222-4222-8222-222222222222")
RESPONSE = UUID("33333333-3333-4333-8333-333333333333")
EXPERT = UUID("44444444-4444-4444-8444-444444444444")
CONTEXT = UUID("55555555-5555-4555-8555-555555555555")
EVENT_ID = UUID("66666666-6666-4666-8666-666666666666")
OTHER = UUID("77777777-7777-4777-8777-777777777777")
EXPIRES = NOW + timedelta(days=6, hours=3)  # what the database says, not recomputed


def uid(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def task_id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-9000-{n:012d}")


@dataclass
class World:
    uow: PostgresUnitOfWork
    log: UowLog
    requests: ScriptedRepo
    responses: ScriptedRepo
    tasks: ScriptedRepo
    ledger: ScriptedRepo
    users: ScriptedRepo
    priorities: ScriptedRepo

    def calls(self, repo: str, method: str | None = None) -> list[Call]:
        return self.log.of(repo, method)

    def committed(self) -> list[Event]:
        self.uow.commit()
        return self.log.committed_events

    def new_tasks(self) -> list[NewTask]:
        return [c.args[0] for c in self.calls("tasks", "add")]


def world(task_ids: list[UUID | None] | None = None, **requests: Any) -> World:
    """A unit of work whose ``community_requests`` answers ``requests``; tasks get ``task_ids``
    in order (default: task_id(1), task_id(2), ...)."""
    log = UowLog()
    ids: Iterator[UUID | None] = iter(
        task_ids if task_ids is not None else [task_id(n) for n in range(1, 50)]
    )
    repos = {
        "community_requests": ScriptedRepo("community_requests", log, **requests),
        "community_responses": ScriptedRepo("community_responses", log),
        "tasks": ScriptedRepo(
            "tasks", log, add=lambda task: next(ids), cancel_pending_for_context=lambda *a, **k: 2
        ),
        "credits": ScriptedRepo("credits", log),
        "users": ScriptedRepo("users", log),
        "priorities": ScriptedRepo(
            "priorities", log, expire_for_community_request=lambda *a: 1, set_item_status=lambda *a: 1
        ),
    }
    uow = RecordingUow(log, **repos)
    uow.__enter__()
    return World(
        uow.as_postgres(),
        log,
        repos["community_requests"],
        repos["community_responses"],
        repos["tasks"],
        repos["credits"],
        repos["users"],
        repos["priorities"],
    )


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def needed(**overrides: Any) -> RequestNeeded:
    fields: dict[str, Any] = {
        "requesting_agent_type": "concierge",
        "requesting_user_id": REQUESTER,
        "question": "Who has moved a Postgres fleet to Aurora?",
        "category": "engineering",
        "expertise_needed": ("postgres", "aws"),
        "context_id": CONTEXT,
        "context_type": "conversation",
        "requester_context": "CTO at a fintech",
        "desired_outcome": "a migration plan",
        "urgency": "high",
        "request_summary": "Postgres to Aurora",
    }
    fields.update(overrides)
    return RequestNeeded(**fields)


def delivery(data: dict[str, Any], *, delivery_id: UUID = EVENT_ID) -> Delivery:
    return Delivery(
        kind="event",
        id=delivery_id,
        type="community.request_needed",
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=None,
    )


def deps(*, llm: ScriptedLlm | None = None, clock: datetime = NOW) -> Deps:
    def unused() -> Any:
        raise AssertionError("not used by the community use cases")

    return Deps(
        uow_factory=unused,
        llm_factory=lambda: llm,
        clock=lambda: clock,
        sms_factory=unused,
        publisher_factory=unused,
        freshness=None,  # type: ignore[arg-type]
    )


# --- 1. Parsing community.request_needed -----------------------------------------------------------


def test_a_full_snake_case_payload_is_read_field_by_field() -> None:
    parsed = parse_request_needed(
        {
            "requesting_agent_type": "solution_saga",
            "requesting_user_id": str(REQUESTER),
            "question": "  Who has moved a Postgres fleet to Aurora?  ",
            "category": "  Engineering ",
            "expertise_needed": [" Postgres ", "AWS", "postgres"],
            "context_id": str(CONTEXT),
            "context_type": "solution_workflow",
            "requester_context": "CTO at a fintech",
            "desired_outcome": "a migration plan",
            "urgency": "low",
            "request_summary": "Postgres to Aurora",
        }
    )
    assert parsed == RequestNeeded(
        requesting_agent_type="solution_saga",
        requesting_user_id=REQUESTER,
        question="Who has moved a Postgres fleet to Aurora?",
        category="engineering",
        expertise_needed=("postgres", "aws"),
        context_id=CONTEXT,
        context_type="solution_workflow",
        requester_context="CTO at a fintech",
        desired_outcome="a migration plan",
        urgency="low",
        request_summary="Postgres to Aurora",
    )


def test_the_camel_case_spelling_of_platform_md_is_read_too() -> None:
    parsed = parse_request_needed(
        {
            "requestingAgentType": "solution_saga",
            "requestingUserId": str(REQUESTER),
            "question": "Q?",
            "category": "sales",
            "expertiseNeeded": "Enterprise Sales",
            "contextId": str(CONTEXT),
            "contextType": "solution_workflow",
            "requesterContext": "VP Sales",
            "desiredOutcome": "names",
            "urgency": "high",
            "requestSummary": "Enterprise sales",
        }
    )
    assert parsed == RequestNeeded(
        requesting_agent_type="solution_saga",
        requesting_user_id=REQUESTER,
        question="Q?",
        category="sales",
        expertise_needed=("enterprise sales",),
        context_id=CONTEXT,
        context_type="solution_workflow",
        requester_context="VP Sales",
        desired_outcome="names",
        urgency="high",
        request_summary="Enterprise sales",
    )


def test_the_snake_case_field_wins_even_when_empty() -> None:
    parsed = parse_request_needed(
        {
            "requesting_user_id": str(REQUESTER),
            "question": "Q?",
            "request_summary": "",
            "requestSummary": "camel",
            "requesting_agent_type": "",
            "requestingAgentType": "solution_saga",
        }
    )
    assert (parsed.request_summary, parsed.requesting_agent_type) == (None, "concierge")


def test_a_minimal_payload_takes_the_defaults() -> None:
    parsed = parse_request_needed({"user_id": REQUESTER, "question": "Q?"})
    assert parsed == RequestNeeded(
        requesting_agent_type="concierge",
        requesting_user_id=REQUESTER,
        question="Q?",
        category=None,
        expertise_needed=(),
        context_id=None,
        context_type=None,
        requester_context=None,
        desired_outcome=None,
        urgency="medium",
        request_summary=None,
    )


def test_requesting_user_id_wins_over_user_id() -> None:
    parsed = parse_request_needed(
        {"requesting_user_id": str(REQUESTER), "user_id": str(OTHER), "question": "Q"}
    )
    assert parsed.requesting_user_id == REQUESTER


@pytest.mark.parametrize(
    "payload",
    [
        {"question": "Q?"},
        {"requesting_user_id": "not-a-uuid", "question": "Q?"},
        {"requesting_user_id": "", "question": "Q?"},
        {"requesting_user_id": str(REQUESTER)},
        {"requesting_user_id": str(REQUESTER), "question": "   "},
        {"requesting_user_id": str(REQUESTER), "question": None},
    ],
)
def test_a_payload_without_a_member_or_a_question_is_permanent(payload: dict[str, Any]) -> None:
    with pytest.raises(PermanentError) as err:
        parse_request_needed(payload)
    assert str(err.value) == "community.request_needed needs requesting_user_id and question"


def test_a_bad_context_id_is_dropped_not_fatal() -> None:
    parsed = parse_request_needed({"user_id": str(REQUESTER), "question": "Q", "context_id": "nope"})
    assert parsed.context_id is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("urgent", "medium"), ("HIGH", "medium")],
)
def test_urgency_is_low_medium_or_high_else_medium(given: str, kept: str) -> None:
    assert (
        parse_request_needed({"user_id": str(REQUESTER), "question": "Q", "urgency": given}).urgency == kept
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [("x" * 100, "x" * 100), ("y" * 101, "y" * 100), ("", None), (None, None), (12, "12")],
)
def test_the_summary_is_cut_to_100_characters(given: Any, kept: str | None) -> None:
    parsed = parse_request_needed({"user_id": str(REQUESTER), "question": "Q", "request_summary": given})
    assert parsed.request_summary == kept


@pytest.mark.parametrize(("given", "kept"), [("  ", None), (" Sales ", "sales"), (None, None), (0, None)])
def test_the_category_is_trimmed_and_lower_cased(given: Any, kept: str | None) -> None:
    parsed = parse_request_needed({"user_id": str(REQUESTER), "question": "Q", "category": given})
    assert parsed.category == kept


def test_the_event_handler_routes_the_payload_at_the_clock_with_the_event_id() -> None:
    w = world(
        lock_category=None,
        open_duplicate=None,
        match_experts=[],
        add=InsertedRequest(REQUEST, EXPIRES),
        add_requester=None,
    )
    data = {"payload": {"requesting_user_id": str(REQUESTER), "question": "Q?", "expertise_needed": ["aws"]}}
    result = handle_request_needed(delivery(data), w.uow, deps(clock=NOW + timedelta(minutes=5)))
    assert result == {"status": "no_experts", "request_id": str(REQUEST), "experts": [], "skipped": 0}
    [dup] = w.calls("community_requests", "open_duplicate")
    assert dup.kwargs["now"] == NOW + timedelta(minutes=5)
    [requester] = w.calls("community_requests", "add_requester")
    assert requester.kwargs == {"source_event_id": EVENT_ID, "now": NOW + timedelta(minutes=5)}


def test_the_event_handler_refuses_an_event_without_a_payload() -> None:
    w = world()
    with pytest.raises(PermanentError, match="needs requesting_user_id and question"):
        handle_request_needed(delivery({}), w.uow, deps())
    assert w.log.calls == []


# --- 1. Routing --------------------------------------------------------------------------------


def candidate(n: int, **overrides: Any) -> Candidate:
    return Candidate(user_id=uid(n), overlap=2, **overrides)


def routing_world(
    candidates: list[Candidate], *, asks: Callable[..., bool] | bool = True, **more: Any
) -> World:
    return world(
        lock_category=None,
        open_duplicate=None,
        match_experts=candidates,
        add=InsertedRequest(REQUEST, EXPIRES),
        add_requester=None,
        add_ask=asks,
        **more,
    )


def test_a_routed_request_locks_its_category_then_looks_for_a_duplicate_in_the_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = routing_world([candidate(1), candidate(2)])
    result = route_request(w.uow, needed(), now=NOW, source_event_id=EVENT_ID)
    assert w.log.methods()[:3] == [
        "community_requests.lock_category",
        "community_requests.open_duplicate",
        "community_requests.match_experts",
    ]
    assert w.calls("community_requests", "lock_category") == [
        Call("community_requests", "lock_category", ("engineering",), {})
    ]
    assert w.calls("community_requests", "open_duplicate")[0].kwargs == {
        "statuses": OPEN_STATUSES,
        "category": "engineering",
        "expertise": ("postgres", "aws"),
        "since": NOW - COMMUNITY_DUPLICATE_WINDOW,
        "now": NOW,
    }
    assert w.calls("community_requests", "match_experts") == [
        Call(
            "community_requests",
            "match_experts",
            (("postgres", "aws"),),
            {"exclude": [REQUESTER], "now": NOW, "limit": COMMUNITY_CANDIDATE_POOL},
        )
    ]
    assert result.status == "routed"
    assert result.as_dict() == {
        "status": "routed",
        "request_id": str(REQUEST),
        "experts": [str(uid(1)), str(uid(2))],
        "skipped": 0,
    }


def test_the_inserted_request_carries_the_question_the_experts_and_a_seven_day_expiry() -> None:
    w = routing_world([candidate(1), candidate(2)])
    route_request(w.uow, needed(), now=NOW, source_event_id=EVENT_ID)
    [add] = w.calls("community_requests", "add")
    assert add.args == (
        NewCommunityRequest(
            requesting_agent_type="concierge",
            requesting_user_id=REQUESTER,
            context_id=CONTEXT,
            context_type="conversation",
            question="Who has moved a Postgres fleet to Aurora?",
            category="engineering",
            expertise_needed=("postgres", "aws"),
            target_user_ids=(uid(1), uid(2)),
            requester_context="CTO at a fintech",
            desired_outcome="a migration plan",
            urgency="high",
            request_summary="Postgres to Aurora",
            created_at=NOW,
            expires_at=NOW + COMMUNITY_REQUEST_EXPIRY,
        ),
    )
    assert timedelta(days=7) == COMMUNITY_REQUEST_EXPIRY
    assert w.calls("community_requests", "add_requester") == [
        Call(
            "community_requests",
            "add_requester",
            (
                REQUEST,
                Requester(
                    user_id=REQUESTER,
                    requesting_agent_type="concierge",
                    context_id=CONTEXT,
                    context_type="conversation",
                    question="Who has moved a Postgres fleet to Aurora?",
                ),
            ),
            {"source_event_id": EVENT_ID, "now": NOW},
        )
    ]


def test_each_chosen_expert_is_asked_once_with_a_task_for_their_account_manager() -> None:
    w = routing_world([candidate(1), candidate(2)])
    route_request(w.uow, needed(), now=NOW, source_event_id=EVENT_ID)
    assert w.calls("community_requests", "add_ask") == [
        Call("community_requests", "add_ask", (REQUEST, uid(1)), {"now": NOW, "referred_by": None}),
        Call("community_requests", "add_ask", (REQUEST, uid(2)), {"now": NOW, "referred_by": None}),
    ]
    context = {
        "request_id": str(REQUEST),
        "question": "Who has moved a Postgres fleet to Aurora?",
        "category": "engineering",
        "expertise_needed": ["postgres", "aws"],
        "request_summary": "Postgres to Aurora",
        "urgency": "high",
        "expires_at": EXPIRES,
        "credits_mentioned": EXPERT_ANSWER_CREDITS_MENTIONED,
        "referred_by_user_id": None,
    }
    assert w.new_tasks() == [
        NewTask(
            task_type="community_request_available",
            agent_type="account_manager",
            user_id=expert,
            scheduled_for=NOW,
            priority="medium",
            context_json=context,
            context_id=REQUEST,
            context_type="community_request",
            created_by="agent_of_humans",
            dedupe_key=f"community_request_available:{expert}:community_request:{REQUEST}",
            max_retries=TASK_MAX_RETRIES,
        )
        for expert in (uid(1), uid(2))
    ]
    assert w.log.methods().index("community_requests.add_requester") < w.log.methods().index(
        "community_requests.add_ask"
    )


def test_an_expert_already_asked_on_this_request_gets_no_second_task() -> None:
    w = routing_world([candidate(1), candidate(2)], asks=lambda request_id, expert, **kw: expert != uid(1))
    result = route_request(w.uow, needed(), now=NOW)
    assert [t.user_id for t in w.new_tasks()] == [uid(2)]
    assert result.expert_ids == (uid(1), uid(2))


def test_the_routed_event_names_the_experts_and_is_kept_only_on_commit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = routing_world([candidate(1), candidate(2)])
    route_request(w.uow, needed(), now=NOW)
    assert w.log.committed_events == []
    assert w.committed() == [
        Event(
            event_type="community.request_routed",
            aggregate_type="community_request",
            aggregate_id=REQUEST,
            payload={
                "request_id": str(REQUEST),
                "experts_notified": 2,
                "expert_user_ids": [str(uid(1)), str(uid(2))],
            },
            created_by="agent_of_humans",
        )
    ]
    [line] = records(caplog, "community request routed")
    assert line.levelno == logging.INFO
    assert (line.request_id, line.experts, line.skipped) == (str(REQUEST), 2, [])  # type: ignore[attr-defined]


def test_the_requester_and_an_expert_asked_today_are_skipped_and_the_next_candidates_take_their_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    earlier_today = NOW - timedelta(hours=3)  # 09:00 in New York, the same local day
    candidates = [
        Candidate(user_id=REQUESTER, overlap=3),
        candidate(1, recent_asks=(earlier_today,)),
        candidate(2, recent_asks=(NOW - timedelta(days=1),)),  # yesterday: may be asked
        candidate(3, timezone="Asia/Tokyo"),  # 02:00 in Tokyo: quiet hours
        candidate(4),
        candidate(5),
        candidate(6),
        candidate(7),
        candidate(8),
    ]
    w = routing_world(candidates)
    result = route_request(w.uow, needed(), now=NOW)
    assert result.expert_ids == (uid(2), uid(4), uid(5), uid(6), uid(7))
    assert len(result.expert_ids) == COMMUNITY_MAX_EXPERTS
    assert result.skipped == 3
    assert result.as_dict()["skipped"] == 3
    [line] = records(caplog, "community request routed")
    assert line.skipped == [  # type: ignore[attr-defined]
        f"{REQUESTER}:requester",
        f"{uid(1)}:asked_today",
        f"{uid(3)}:quiet_hours",
    ]
    assert line.experts == 5  # type: ignore[attr-defined]
    [add] = w.calls("community_requests", "add")
    assert add.args[0].target_user_ids == (uid(2), uid(4), uid(5), uid(6), uid(7))


def test_nobody_fits_publishes_no_experts_found_with_the_question(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = routing_world([Candidate(user_id=REQUESTER, overlap=1), candidate(1, quiet_hours_start=time(11))])
    result = route_request(w.uow, needed(category=None), now=NOW)
    assert result.as_dict() == {
        "status": "no_experts",
        "request_id": str(REQUEST),
        "experts": [],
        "skipped": 2,
    }
    assert w.calls("community_requests", "add_ask") == [] and w.new_tasks() == []
    assert w.committed() == [
        Event(
            event_type="community.no_experts_found",
            aggregate_type="community_request",
            aggregate_id=REQUEST,
            payload={
                "request_id": str(REQUEST),
                "category": "unknown",
                "expertise_needed": ["postgres", "aws"],
                "question": "Who has moved a Postgres fleet to Aurora?",
                "candidates_skipped": 2,
            },
            created_by="agent_of_humans",
        )
    ]
    [line] = records(caplog, "community request routed")
    assert (line.experts, line.skipped) == (0, [f"{REQUESTER}:requester", f"{uid(1)}:quiet_hours"])  # type: ignore[attr-defined]
    assert w.calls("community_requests", "lock_category")[0].args == (None,)


def test_a_known_category_is_named_in_no_experts_found() -> None:
    w = routing_world([])
    route_request(w.uow, needed(), now=NOW)
    [event] = w.committed()
    assert event.payload["category"] == "engineering"
    assert event.payload["candidates_skipped"] == 0


def test_a_question_without_expertise_looks_for_no_duplicate_and_no_experts() -> None:
    w = world(lock_category=None, add=InsertedRequest(REQUEST, EXPIRES), add_requester=None)
    result = route_request(w.uow, needed(expertise_needed=()), now=NOW)
    assert result.status == "no_experts"
    assert w.log.methods() == [
        "community_requests.lock_category",
        "community_requests.add",
        "community_requests.add_requester",
    ]


def test_an_open_duplicate_absorbs_the_question(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = world(
        lock_category=None,
        open_duplicate=OpenDuplicate(REQUEST, (uid(1), uid(2))),
        add_requester=None,
        withdraw_ask=False,
    )
    result = route_request(w.uow, needed(), now=NOW, source_event_id=EVENT_ID)
    assert result.as_dict() == {
        "status": "attached",
        "request_id": str(REQUEST),
        "experts": [str(uid(1)), str(uid(2))],
        "skipped": 0,
    }
    assert w.log.methods() == [
        "community_requests.lock_category",
        "community_requests.open_duplicate",
        "community_requests.add_requester",
        "community_requests.withdraw_ask",
    ]
    assert w.calls("community_requests", "withdraw_ask")[0].args == (REQUEST, REQUESTER)
    [requester] = w.calls("community_requests", "add_requester")
    assert requester.args[0] == REQUEST
    assert requester.args[1].user_id == REQUESTER
    assert requester.kwargs == {"source_event_id": EVENT_ID, "now": NOW}
    assert w.committed() == [
        Event(
            event_type="community.request_attached",
            aggregate_type="community_request",
            aggregate_id=REQUEST,
            payload={
                "existing_request_id": str(REQUEST),
                "new_event_id": str(EVENT_ID),
                "requesting_user_id": str(REQUESTER),
                "question": "Who has moved a Postgres fleet to Aurora?",
            },
            created_by="agent_of_humans",
        )
    ]
    [line] = records(caplog, "community request absorbed by an open duplicate")
    assert line.levelno == logging.INFO
    assert line.request_id == str(REQUEST)  # type: ignore[attr-defined]
    assert records(caplog, "community request routed") == []


def test_an_asker_asked_the_same_request_as_an_expert_has_the_ask_withdrawn() -> None:
    w = world(
        lock_category=None,
        open_duplicate=OpenDuplicate(REQUEST, (REQUESTER, uid(2))),
        add_requester=None,
        withdraw_ask=True,
    )
    route_request(w.uow, needed(), now=NOW, source_event_id=EVENT_ID)
    [withdrawn] = w.calls("community_requests", "withdraw_ask")
    assert (withdrawn.args, withdrawn.kwargs) == ((REQUEST, REQUESTER), {"now": NOW})
    [expired] = w.calls("priorities", "set_item_status")
    assert expired.args == (REQUESTER, "community_request", REQUEST, "expired")


def test_an_absorbed_question_without_a_source_event_names_none() -> None:
    w = world(
        lock_category=None, open_duplicate=OpenDuplicate(REQUEST, ()), add_requester=None, withdraw_ask=False
    )
    result = route_request(w.uow, needed(), now=NOW)
    assert result.status == "attached" and result.expert_ids == ()
    [event] = w.committed()
    assert event.payload["new_event_id"] is None
    assert w.calls("community_requests", "add_requester")[0].kwargs["source_event_id"] is None


# --- 2. The expert's reply ---------------------------------------------------------------------


def locked(
    *, status: str = "open", expires_at: datetime = EXPIRES, question: str = "Which CRM scales?"
) -> LockedRequest:
    return LockedRequest(
        id=REQUEST,
        requesting_agent_type="concierge",
        requesting_user_id=REQUESTER,
        question=question,
        category="sales",
        expertise_needed=("crm", "sales ops"),
        target_user_ids=(EXPERT,),
        status=status,
        responses_count=0,
        created_at=NOW - timedelta(days=1),
        expires_at=expires_at,
    )


def requester(
    user_id: UUID = REQUESTER,
    *,
    agent: str = "concierge",
    context_id: UUID | None = CONTEXT,
    context_type: str | None = "conversation",
    question: str = "Which CRM scales?",
) -> Requester:
    return Requester(user_id, agent, context_id, context_type, question)


def answer_world(
    request: LockedRequest | None = None, *, created: bool = True, requesters: Any = None
) -> World:
    w = world(
        lock=request if request is not None else locked(),
        record_reply=None,
        count_response=None,
        add_review=None,
        requesters=requesters if requesters is not None else [requester(), requester(OTHER)],
    )
    w.responses.answer("add", RecordedResponse(RESPONSE, created))
    return w


def test_an_answer_is_stored_counted_and_published(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = answer_world()
    text = "  Use HubSpot until 50 reps, then Salesforce with a RevOps hire.  "
    result = handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text=text, now=NOW)
    assert result.as_dict() == {
        "status": "recorded",
        "request_id": str(REQUEST),
        "response_id": str(RESPONSE),
        "reply": None,
        "referred_user_id": None,
    }
    assert w.log.methods() == [
        "community_requests.lock",
        "community_responses.add",
        "community_requests.record_reply",
        "community_requests.count_response",
        "community_requests.requesters",
    ]
    assert w.calls("community_requests", "lock")[0].args == (REQUEST,)
    words = "Use HubSpot until 50 reps, then Salesforce with a RevOps hire."
    assert w.calls("community_responses", "add") == [
        Call(
            "community_responses",
            "add",
            (REQUEST, EXPERT),
            {"response_text": words, "verbatim_answer": words, "now": NOW},
        )
    ]
    assert w.calls("community_requests", "record_reply") == [
        Call("community_requests", "record_reply", (REQUEST, EXPERT), {"status": "answered", "now": NOW})
    ]
    assert w.calls("community_requests", "count_response")[0].args == (REQUEST,)
    assert w.calls("community_requests", "requesters")[0].args == (REQUEST,)
    assert w.log.committed_events == []
    assert w.committed() == [
        Event(
            event_type="community.response_received",
            aggregate_type="community_response",
            aggregate_id=RESPONSE,
            payload={
                "response_id": str(RESPONSE),
                "request_id": str(REQUEST),
                "expert_user_id": str(EXPERT),
                "response_summary": words,
                "verbatim_answer": words,  # as stored: trimmed
                "context_id": str(CONTEXT),
                "context_type": "conversation",
            },
            created_by="agent_of_humans",
        )
    ]
    assert [r for r in caplog.records if r.name == LOGGER] == []


def test_the_concierges_summary_is_stored_beside_the_verbatim_words() -> None:
    w = answer_world()
    handle_expert_reply(
        w.uow,
        request_id=REQUEST,
        expert_user_id=EXPERT,
        text=" Start on HubSpot, then move. ",
        summary=" HubSpot. ",
        now=NOW,
    )
    [add] = w.calls("community_responses", "add")
    assert (add.kwargs["response_text"], add.kwargs["verbatim_answer"]) == (
        "HubSpot.",
        "Start on HubSpot, then move.",
    )
    [event] = w.committed()  # the event carries the stored words, trimmed as the row has them
    assert (event.payload["response_summary"], event.payload["verbatim_answer"]) == (
        "HubSpot.",
        "Start on HubSpot, then move.",
    )


def test_the_summary_and_the_verbatim_answer_are_capped() -> None:
    w = answer_world()
    long_summary = "s" * (COMMUNITY_SUMMARY_MAX_CHARS + 1)
    long_text = "v" * (COMMUNITY_VERBATIM_MAX_CHARS + 1)
    handle_expert_reply(
        w.uow, request_id=REQUEST, expert_user_id=EXPERT, text=long_text, summary=long_summary, now=NOW
    )
    [add] = w.calls("community_responses", "add")
    assert add.kwargs["response_text"] == "s" * COMMUNITY_SUMMARY_MAX_CHARS
    assert add.kwargs["verbatim_answer"] == "v" * COMMUNITY_VERBATIM_MAX_CHARS
    [event] = w.committed()  # and the event passes on what was stored, not the longer reply
    assert event.payload["response_summary"] == add.kwargs["response_text"]
    assert event.payload["verbatim_answer"] == add.kwargs["verbatim_answer"]
    assert (COMMUNITY_SUMMARY_MAX_CHARS, COMMUNITY_VERBATIM_MAX_CHARS) == (1000, 4000)


def test_an_answer_given_twice_is_recorded_once() -> None:
    w = answer_world(created=False)
    result = handle_expert_reply(
        w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="Use HubSpot.", now=NOW
    )
    assert result.as_dict() == {
        "status": "already_recorded",
        "request_id": str(REQUEST),
        "response_id": str(RESPONSE),
        "reply": None,
        "referred_user_id": None,
    }
    assert w.log.methods() == ["community_requests.lock", "community_responses.add"]
    assert w.committed() == []


@pytest.mark.parametrize(
    ("requesters", "context_id", "context_type"),
    [
        ([], None, None),
        ([requester(context_id=None, context_type=None)], None, None),
        ([requester(context_id=None, context_type="solution_workflow")], None, "solution_workflow"),
    ],
)
def test_the_event_names_the_first_requesters_context_when_there_is_one(
    requesters: list[Requester], context_id: str | None, context_type: str | None
) -> None:
    w = answer_world(requesters=requesters)
    handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="Use HubSpot.", now=NOW)
    [event] = w.committed()
    assert (event.payload["context_id"], event.payload["context_type"]) == (context_id, context_type)


@pytest.mark.parametrize(
    ("status", "expires_at"),
    [
        ("closed", EXPIRES),
        ("cancelled", EXPIRES),
        ("open", NOW),
        ("responses_received", NOW - timedelta(seconds=1)),
    ],
)
def test_an_answer_to_a_finished_request_is_refused_and_kept_for_an_operator(
    status: str, expires_at: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = answer_world(locked(status=status, expires_at=expires_at))
    result = handle_expert_reply(
        w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="Use HubSpot.", summary="HubSpot", now=NOW
    )
    assert result.as_dict() == {
        "status": "refused",
        "request_id": str(REQUEST),
        "response_id": None,
        "reply": REFUSED_REPLY,
        "referred_user_id": None,
    }
    assert REFUSED_REPLY == (
        "Thanks for this. That question has already been closed, so I can't pass your answer on, "
        "but I've kept it for the team."
    )
    assert w.log.methods() == ["community_requests.lock", "community_requests.add_review"]
    assert w.calls("community_requests", "add_review")[0] == Call(
        "community_requests",
        "add_review",
        (
            "late_response",
            REQUEST,
            EXPERT,
            f"answer to a {status} request",
            {"summary": "HubSpot", "verbatim_answer": "Use HubSpot.", "request_status": status},
        ),
        {},
    )
    [line] = records(caplog, "response to a finished request stored for an operator")
    assert line.levelno == logging.INFO
    assert line.request_id == str(REQUEST)  # type: ignore[attr-defined]
    assert w.committed() == []


def test_an_answer_a_moment_before_expiry_is_recorded() -> None:
    w = answer_world(locked(expires_at=NOW + timedelta(microseconds=1)))
    result = handle_expert_reply(
        w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="Use HubSpot.", now=NOW
    )
    assert result.status == "recorded"


def test_a_reply_to_an_unknown_request_raises() -> None:
    for text in ("Use HubSpot.", "pass", "ask Dana Kim"):
        w = world(lock=None)
        with pytest.raises(UnknownRequest) as err:
            handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text=text, now=NOW)
        assert str(err.value) == f"no community request {REQUEST}"
        assert w.log.methods() == ["community_requests.lock"]


def test_pass_declines_without_penalty() -> None:
    w = world(lock=locked(), record_reply=None)
    result = handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="Pass.", now=NOW)
    assert result.as_dict() == {
        "status": "passed",
        "request_id": str(REQUEST),
        "response_id": None,
        "reply": None,
        "referred_user_id": None,
    }
    assert w.log.calls == [
        Call("community_requests", "lock", (REQUEST,), {}),
        Call("community_requests", "record_reply", (REQUEST, EXPERT), {"status": "passed", "now": NOW}),
    ]
    assert w.committed() == []


# --- 2. Referrals ------------------------------------------------------------------------------


def referral_world(
    matches: list[UUID], *, request: LockedRequest | None = None, asks: bool = True, requesters: Any = None
) -> World:
    w = world(
        lock=request or locked(),
        record_reply=None,
        requesters=requesters if requesters is not None else [requester()],
        add_ask=asks,
        add_targets=None,
        add_review=None,
    )
    w.users.answer("verified_by_name", matches)
    return w


def test_a_referral_to_one_verified_member_asks_them(caplog: pytest.LogCaptureFixture) -> None:
    w = referral_world([OTHER])
    result = handle_expert_reply(
        w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="ask  Dana  Kim", now=NOW
    )
    assert result.as_dict() == {
        "status": "referred",
        "request_id": str(REQUEST),
        "response_id": None,
        "reply": None,
        "referred_user_id": str(OTHER),
    }
    assert w.log.methods() == [
        "community_requests.lock",
        "users.verified_by_name",
        "community_requests.requesters",
        "community_requests.record_reply",
        "community_requests.add_ask",
        "tasks.add",
        "community_requests.add_targets",
    ]
    assert w.calls("users", "verified_by_name") == [Call("users", "verified_by_name", ("Dana", "Kim"), {})]
    assert w.calls("community_requests", "requesters")[0].args == (REQUEST,)
    assert w.calls("community_requests", "record_reply") == [
        Call(
            "community_requests",
            "record_reply",
            (REQUEST, EXPERT),
            {"status": "referred", "now": NOW, "referral_name": "Dana Kim", "referred_user_id": OTHER},
        )
    ]
    assert w.calls("community_requests", "add_ask") == [
        Call("community_requests", "add_ask", (REQUEST, OTHER), {"now": NOW, "referred_by": EXPERT})
    ]
    assert w.new_tasks() == [
        NewTask(
            task_type="community_request_available",
            agent_type="account_manager",
            user_id=OTHER,
            scheduled_for=NOW,
            priority="medium",
            context_json={
                "request_id": str(REQUEST),
                "question": "Which CRM scales?",
                "category": "sales",
                "expertise_needed": ["crm", "sales ops"],
                "request_summary": None,
                "urgency": None,
                "expires_at": EXPIRES,
                "credits_mentioned": EXPERT_ANSWER_CREDITS_MENTIONED,
                "referred_by_user_id": str(EXPERT),
            },
            context_id=REQUEST,
            context_type="community_request",
            created_by="agent_of_humans",
            dedupe_key=f"community_request_available:{OTHER}:community_request:{REQUEST}",
            max_retries=TASK_MAX_RETRIES,
        )
    ]
    assert w.calls("community_requests", "add_targets") == [
        Call("community_requests", "add_targets", (REQUEST, [OTHER]), {})
    ]
    assert w.log.committed_events == []
    assert w.committed() == [
        Event(
            event_type="community.request_routed",
            aggregate_type="community_request",
            aggregate_id=REQUEST,
            payload={
                "request_id": str(REQUEST),
                "experts_notified": 1,
                "expert_user_ids": [str(OTHER)],
                "referred_by_user_id": str(EXPERT),
            },
            created_by="agent_of_humans",
        )
    ]


def test_a_referral_to_someone_already_asked_adds_nothing_more() -> None:
    w = referral_world([OTHER], asks=False)
    result = handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="ask Dana", now=NOW)
    assert (result.status, result.referred_user_id) == ("referred", OTHER)
    assert w.calls("users", "verified_by_name") == [Call("users", "verified_by_name", ("Dana", None), {})]
    assert w.new_tasks() == [] and w.calls("community_requests", "add_targets") == []
    assert w.committed() == []


@pytest.mark.parametrize(
    ("matches", "why"),
    [([], "no verified member"), ([OTHER, uid(9)], "several members"), ([EXPERT], "member cannot be asked")],
)
def test_a_referral_that_cannot_be_followed_is_stored_for_an_operator(matches: list[UUID], why: str) -> None:
    w = referral_world(matches)
    result = handle_expert_reply(
        w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="try Dana Kim", now=NOW
    )
    assert result.as_dict() == {
        "status": "referral_stored",
        "request_id": str(REQUEST),
        "response_id": None,
        "reply": None,
        "referred_user_id": None,
    }
    referred = matches[0] if len(matches) == 1 else None
    assert w.calls("community_requests", "record_reply")[0].kwargs["referred_user_id"] == referred
    assert w.calls("community_requests", "add_review") == [
        Call(
            "community_requests",
            "add_review",
            ("unresolved_referral", REQUEST, EXPERT, f"referral to 'Dana Kim': {why}", {"name": "Dana Kim"}),
            {},
        )
    ]
    assert w.calls("community_requests", "add_ask") == [] and w.committed() == []


def test_a_referral_to_the_requester_is_stored_for_an_operator() -> None:
    w = referral_world([REQUESTER], requesters=[requester(OTHER), requester(REQUESTER)])
    result = handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="ask Sam", now=NOW)
    assert result.status == "referral_stored"
    assert (
        w.calls("community_requests", "add_review")[0].args[3] == "referral to 'Sam': member cannot be asked"
    )


@pytest.mark.parametrize(("status", "expires_at"), [("closed", EXPIRES), ("open", NOW)])
def test_a_referral_on_a_finished_request_is_stored_for_an_operator(
    status: str, expires_at: datetime
) -> None:
    w = referral_world([OTHER], request=locked(status=status, expires_at=expires_at))
    result = handle_expert_reply(w.uow, request_id=REQUEST, expert_user_id=EXPERT, text="ask Dana", now=NOW)
    assert result.status == "referral_stored"
    assert (
        w.calls("community_requests", "add_review")[0].args[3] == "referral to 'Dana': member cannot be asked"
    )
    assert w.calls("community_requests", "add_ask") == []


# --- 3. Response received: route, score, pay ----------------------------------------------------


def locked_response(
    *,
    score: int | None = None,
    scored_by: str | None = None,
    verbatim: str | None = "Use HubSpot until 50 reps.",
) -> LockedResponse:
    return LockedResponse(
        id=RESPONSE,
        request_id=REQUEST,
        user_id=EXPERT,
        response_text="HubSpot, then Salesforce.",
        verbatim_answer=verbatim,
        usefulness_score=score,
        impact_description=None,
        credits_awarded=0,
        status="received",
        scored_by=scored_by,
        question="Which CRM scales?",
        category="sales",
        requesting_agent_type="concierge",
        expert_first_name="Dana",
    )


def ledger_entry(amount: int, *, duplicate: bool = False) -> LedgerEntry:
    return LedgerEntry(
        id=uid(99),
        user_id=EXPERT,
        event_type="community_response",
        amount=amount,
        reference_type="community_response",
        reference_id=RESPONSE,
        idempotency_key=f"community_response_{RESPONSE}",
        description=None,
        recorded_by=None,
        created_at=NOW,
        duplicate=duplicate,
    )


def response_world(
    response: LockedResponse | None = None,
    *,
    requesters: Any = None,
    task_ids: list[UUID | None] | None = None,
) -> World:
    w = world(task_ids, requesters=requesters if requesters is not None else [])
    w.responses.answer("lock", response if response is not None else locked_response())
    w.responses.answer("score", True)
    w.responses.answer("reward", True)
    w.ledger.answer("append", lambda entry: ledger_entry(entry.amount))
    return w


def scored(usefulness: int, impact: str = "It settled the CRM choice.") -> ScriptedLlm:
    llm = ScriptedLlm()
    llm.decision("score_answer", usefulness_score=usefulness, impact_description=impact)
    return llm


def test_each_requester_hears_of_the_answer_by_the_agent_that_asked() -> None:
    saga = requester(uid(1), agent="solution_saga", context_id=CONTEXT, context_type="solution_workflow")
    saga_default = requester(uid(2), agent="solution_saga", context_id=None, context_type=None)
    member = requester(uid(3), agent="concierge", question="Which CRM, really?")
    w = response_world(requesters=[saga, saga_default, member])
    outcome = process_response(w.uow, RESPONSE, llm=None, now=NOW)
    assert outcome.routed_to == [str(task_id(1)), str(task_id(2)), str(task_id(3))]
    assert w.calls("community_responses", "lock")[0].args == (RESPONSE,)
    assert w.calls("community_requests", "requesters")[0].args == (REQUEST,)

    def context(question: str) -> dict[str, Any]:
        return {
            "response_id": str(RESPONSE),
            "request_id": str(REQUEST),
            "question": question,
            "response_summary": "HubSpot, then Salesforce.",
            "verbatim_answer": "Use HubSpot until 50 reps.",
            "expert_first_name": "Dana",
        }

    assert w.new_tasks() == [
        NewTask(
            task_type="process_community_response",
            agent_type="solution_saga",
            user_id=uid(1),
            scheduled_for=NOW,
            priority="medium",
            context_json=context("Which CRM scales?"),
            context_id=CONTEXT,
            context_type="solution_workflow",
            created_by="agent_of_humans",
            dedupe_key=f"process_community_response:{RESPONSE}:{uid(1)}",
            max_retries=TASK_MAX_RETRIES,
        ),
        NewTask(
            task_type="process_community_response",
            agent_type="solution_saga",
            user_id=uid(2),
            scheduled_for=NOW,
            priority="medium",
            context_json=context("Which CRM scales?"),
            context_id=None,
            context_type="solution_workflow",
            created_by="agent_of_humans",
            dedupe_key=f"process_community_response:{RESPONSE}:{uid(2)}",
            max_retries=TASK_MAX_RETRIES,
        ),
        NewTask(
            task_type="community_response_available",
            agent_type="account_manager",
            user_id=uid(3),
            scheduled_for=NOW,
            priority="high",
            context_json=context("Which CRM, really?"),
            context_id=RESPONSE,
            context_type="community_response",
            created_by="agent_of_humans",
            dedupe_key=f"community_response_available:{RESPONSE}:{uid(3)}",
            max_retries=TASK_MAX_RETRIES,
        ),
    ]


def test_a_saga_requesters_own_context_type_is_kept() -> None:
    w = response_world(requesters=[requester(uid(1), agent="solution_saga", context_type="saga_step")])
    process_response(w.uow, RESPONSE, llm=None, now=NOW)
    [task] = w.new_tasks()
    assert task.context_type == "saga_step"


def test_a_task_already_pending_is_not_counted_as_routed() -> None:
    w = response_world(requesters=[requester(uid(1)), requester(uid(2))], task_ids=[None, task_id(7)])
    outcome = process_response(w.uow, RESPONSE, llm=None, now=NOW)
    assert outcome.routed_to == [str(task_id(7))]


def test_no_model_leaves_the_answer_for_an_operator(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = response_world(requesters=[requester()])
    outcome = process_response(w.uow, RESPONSE, llm=None, now=NOW)
    assert outcome.as_dict() == {
        "response_id": str(RESPONSE),
        "routed_to": [str(task_id(1))],
        "score": None,
        "scored_by": None,
        "credits": 0,
        "status": "awaiting_score",
    }
    assert w.calls("community_responses", "score") == [] and w.calls("credits") == []
    [line] = records(caplog, "community response left for an operator to score (no model score)")
    assert line.levelno == logging.WARNING
    assert (line.response_id, line.llm_configured) == (str(RESPONSE), False)  # type: ignore[attr-defined]


@pytest.mark.parametrize("failure", ["unavailable", "no tool call"])
def test_a_model_that_gives_no_score_leaves_the_answer_for_an_operator(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    llm = ScriptedLlm()
    if failure == "unavailable":
        llm.push(LlmUnavailable("down", reason="timeout"))
    else:
        llm.reply("I would rather not.")
    w = response_world()
    outcome = process_response(w.uow, RESPONSE, llm=llm, now=NOW)
    assert (outcome.status, outcome.score, outcome.credits) == ("awaiting_score", None, 0)
    [line] = records(caplog, "community response left for an operator to score (no model score)")
    assert (line.response_id, line.llm_configured) == (str(RESPONSE), True)  # type: ignore[attr-defined]
    assert w.calls("community_responses", "score") == []


def test_an_answer_already_scored_is_routed_but_not_scored_again() -> None:
    llm = ScriptedLlm()
    w = response_world(locked_response(score=8, scored_by="llm"), requesters=[requester()])
    outcome = process_response(w.uow, RESPONSE, llm=llm, now=NOW)
    assert outcome.as_dict() == {
        "response_id": str(RESPONSE),
        "routed_to": [str(task_id(1))],
        "score": 8,
        "scored_by": None,
        "credits": 0,
        "status": "already_scored",
    }
    assert llm.requests == []
    assert w.log.methods() == ["community_responses.lock", "community_requests.requesters", "tasks.add"]


def test_the_model_scores_the_verbatim_answer_against_the_question() -> None:
    llm = scored(6)
    w = response_world()
    process_response(w.uow, RESPONSE, llm=llm, now=NOW)
    [request] = llm.requests
    assert (request.user_id, request.context_id) == (EXPERT, RESPONSE)
    assert (
        request.messages[0]["content"]
        == "QUESTION:\nWhich CRM scales?\n\nANSWER:\nUse HubSpot until 50 reps."
    )


def test_without_verbatim_words_the_model_scores_the_summary() -> None:
    llm = scored(6)
    w = response_world(locked_response(verbatim=None))
    process_response(w.uow, RESPONSE, llm=llm, now=NOW)
    assert (
        llm.requests[0].messages[0]["content"]
        == "QUESTION:\nWhich CRM scales?\n\nANSWER:\nHubSpot, then Salesforce."
    )


def test_a_score_below_seven_pays_nothing_but_the_expert_hears_of_the_impact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = response_world()
    outcome = process_response(w.uow, RESPONSE, llm=scored(6, "Useful context."), now=NOW)
    assert outcome.as_dict() == {
        "response_id": str(RESPONSE),
        "routed_to": [],
        "score": 6,
        "scored_by": "llm",
        "credits": 0,
        "status": "scored",
    }
    assert w.calls("community_responses", "score") == [
        Call(
            "community_responses",
            "score",
            (RESPONSE,),
            {"score": 6, "impact": "Useful context.", "scored_by": "llm", "now": NOW},
        )
    ]
    assert w.calls("credits") == [] and w.calls("community_responses", "reward") == []
    assert w.new_tasks() == [
        NewTask(
            task_type="notify_expert_of_impact",
            agent_type="account_manager",
            user_id=EXPERT,
            scheduled_for=NOW + EXPERT_IMPACT_NOTICE_DELAY,
            priority="low",
            context_json={
                "response_id": str(RESPONSE),
                "request_id": str(REQUEST),
                "question": "Which CRM scales?",
                "impact_description": "Useful context.",
                "credits_awarded": 0,
                "usefulness_score": 6,
            },
            context_id=RESPONSE,
            context_type="community_response",
            created_by="agent_of_humans",
            dedupe_key=f"notify_expert_of_impact:{EXPERT}:community_response:{RESPONSE}",
            max_retries=TASK_MAX_RETRIES,
        )
    ]
    assert timedelta(hours=24) == EXPERT_IMPACT_NOTICE_DELAY
    [line] = records(caplog, "community response scored")
    assert line.levelno == logging.INFO
    assert (line.response_id, line.score, line.scored_by, line.credits) == (  # type: ignore[attr-defined]
        str(RESPONSE),
        6,
        "llm",
        0,
    )


@pytest.mark.parametrize(("usefulness", "credits"), [(7, 15), (8, 25), (10, 45)])
def test_a_score_of_seven_or_more_pays_through_the_ledger_once(
    usefulness: int, credits: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = response_world()
    outcome = process_response(w.uow, RESPONSE, llm=scored(usefulness), now=NOW)
    assert outcome.as_dict() == {
        "response_id": str(RESPONSE),
        "routed_to": [],
        "score": usefulness,
        "scored_by": "llm",
        "credits": credits,
        "status": "rewarded",
    }
    assert w.calls("credits", "append") == [
        Call(
            "credits",
            "append",
            (
                NewLedgerEntry(
                    user_id=EXPERT,
                    event_type="community_response",
                    amount=credits,
                    reference_type="community_response",
                    reference_id=RESPONSE,
                    idempotency_key=f"community_response_{RESPONSE}",
                    description=f"Answer scored {usefulness}/10",
                    recorded_by="llm",
                ),
            ),
            {},
        )
    ]
    assert w.calls("community_responses", "reward") == [
        Call("community_responses", "reward", (RESPONSE,), {"credits": credits, "now": NOW})
    ]
    [notice] = w.new_tasks()
    assert notice.context_json["credits_awarded"] == credits
    assert notice.context_json["usefulness_score"] == usefulness
    assert notice.context_json["impact_description"] == "It settled the CRM choice."
    [line] = records(caplog, "community response scored")
    assert line.credits == credits  # type: ignore[attr-defined]
    assert w.log.methods().index("community_responses.score") < w.log.methods().index("credits.append")


def test_a_payment_already_made_under_the_key_is_not_paid_twice() -> None:
    w = response_world()
    w.ledger.answer("append", lambda entry: ledger_entry(entry.amount, duplicate=True))
    outcome = process_response(w.uow, RESPONSE, llm=scored(9), now=NOW)
    assert (outcome.status, outcome.credits) == ("rewarded", 35)
    assert w.calls("community_responses", "reward")[0].kwargs == {"credits": 35, "now": NOW}


def test_an_operator_scores_an_answer_the_model_did_not() -> None:
    w = response_world()
    outcome = score_response(w.uow, RESPONSE, score=7, operator="ana", now=NOW)
    assert outcome.as_dict() == {
        "response_id": str(RESPONSE),
        "routed_to": [],
        "score": 7,
        "scored_by": "operator:ana",
        "credits": 15,
        "status": "rewarded",
    }
    assert w.calls("community_responses", "score")[0].kwargs == {
        "score": 7,
        "impact": IMPACT_VALUABLE,
        "scored_by": "operator:ana",
        "now": NOW,
    }
    assert w.calls("community_responses", "lock") == [Call("community_responses", "lock", (RESPONSE,), {})]
    [append] = w.calls("credits", "append")
    assert append.args[0].recorded_by == "operator:ana"
    assert w.calls("community_requests") == []  # an operator's score tells no requester again


def test_an_operators_low_score_gets_the_context_wording_or_their_own() -> None:
    w = response_world()
    score_response(w.uow, RESPONSE, score=6, operator="ana", now=NOW)
    assert w.calls("community_responses", "score")[0].kwargs["impact"] == IMPACT_CONTEXT
    w = response_world()
    score_response(w.uow, RESPONSE, score=6, operator="ana", impact="Framed the decision.", now=NOW)
    assert w.calls("community_responses", "score")[0].kwargs["impact"] == "Framed the decision."
    assert w.new_tasks()[0].context_json["impact_description"] == "Framed the decision."


def test_an_operator_cannot_score_twice_or_an_unknown_answer() -> None:
    w = response_world(locked_response(score=8, scored_by="llm"))
    with pytest.raises(AlreadyScored) as already:
        score_response(w.uow, RESPONSE, score=9, operator="ana", now=NOW)
    assert str(already.value) == f"response {RESPONSE} was scored 8 by llm"
    assert w.log.methods() == ["community_responses.lock"]
    w = world()
    w.responses.answer("lock", None)
    with pytest.raises(UnknownRequest) as unknown:
        score_response(w.uow, RESPONSE, score=9, operator="ana", now=NOW)
    assert str(unknown.value) == f"no community response {RESPONSE}"


@pytest.mark.parametrize("score", [0, 11])
def test_a_score_outside_1_to_10_writes_nothing(score: int) -> None:
    w = response_world()
    with pytest.raises(ValueError, match="usefulness must be 1-10"):
        score_response(w.uow, RESPONSE, score=score, operator="ana", now=NOW)
    assert w.log.methods() == ["community_responses.lock"]


def test_an_unknown_response_is_permanent() -> None:
    w = world()
    w.responses.answer("lock", None)
    with pytest.raises(PermanentError) as err:
        process_response(w.uow, RESPONSE, llm=None, now=NOW)
    assert str(err.value) == f"no community response {RESPONSE}"


@pytest.mark.parametrize("key", ["response_id", "responseId"])
def test_the_event_handler_processes_the_response_named_in_the_payload(key: str) -> None:
    w = response_world()
    result = handle_response_received(
        delivery({"payload": {key: str(RESPONSE)}}),
        w.uow,
        deps(llm=scored(8), clock=NOW + timedelta(hours=1)),
    )
    assert result == {
        "response_id": str(RESPONSE),
        "routed_to": [],
        "score": 8,
        "scored_by": "llm",
        "credits": 25,
        "status": "rewarded",
    }
    assert w.calls("community_responses", "lock")[0].args == (RESPONSE,)
    assert w.calls("community_responses", "score")[0].kwargs["now"] == NOW + timedelta(hours=1)


@pytest.mark.parametrize("data", [{}, {"payload": None}, {"payload": {"response_id": "nope"}}])
def test_the_event_handler_refuses_an_event_without_a_response_id(data: dict[str, Any]) -> None:
    w = world()
    with pytest.raises(PermanentError) as err:
        handle_response_received(delivery(data), w.uow, deps())
    assert str(err.value) == "community.response_received without a response_id"
    assert w.log.calls == []


# --- 4. Closure and cancellation ---------------------------------------------------------------


def due(
    n: int, *, expires_at: datetime = EXPIRES, asks: tuple[str, ...] = ("answered",), responses: int = 1
) -> DueRequest:
    return DueRequest(
        id=uid(n), status="open", expires_at=expires_at, responses_count=responses, ask_statuses=asks
    )


def closure_world(due_requests: list[DueRequest]) -> World:
    w = world(due_for_closure=due_requests, finish=lambda request_id, **kw: 3)
    w.responses.answer("close_for_request", 2)
    return w


def closed_event(request_id: UUID, reason: str, status: str = "closed") -> Event:
    return Event(
        event_type="community.request_closed",
        aggregate_type="community_request",
        aggregate_id=request_id,
        payload={
            "request_id": str(request_id),
            "total_responses": 3,
            "closed_reason": reason,
            "closed_at": NOW.isoformat(),
            "status": status,
        },
        created_by="agent_of_humans",
    )


def test_the_closure_job_closes_expired_and_fully_answered_requests(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = closure_world(
        [
            due(1, expires_at=NOW),  # expired this instant
            due(2, asks=("answered", "passed")),  # everyone answered
            due(3, asks=("answered", "asked")),  # still waiting: stays open
            due(4, expires_at=NOW - timedelta(days=1), asks=("asked",), responses=0),
            due(5, expires_at=NOW + timedelta(seconds=1), asks=("asked",)),
        ]
    )
    report = close_due_requests(w.uow, now=NOW)
    assert report.as_dict() == {"examined": 5, "closed": {"expired": 2, "sufficient_responses": 1}}
    assert w.calls("community_requests", "due_for_closure") == [
        Call(
            "community_requests",
            "due_for_closure",
            (),
            {"statuses": OPEN_STATUSES, "now": NOW, "limit": COMMUNITY_CLOSURE_BATCH},
        )
    ]
    assert [c.args[0] for c in w.calls("community_requests", "finish")] == [uid(1), uid(2), uid(4)]
    assert w.calls("community_requests", "finish")[0] == Call(
        "community_requests", "finish", (uid(1),), {"status": "closed", "now": NOW, "message": THANK_YOU}
    )
    assert THANK_YOU == "Thank you to everyone who answered."
    assert w.calls("community_responses", "close_for_request")[1] == Call(
        "community_responses", "close_for_request", (uid(2),), {"now": NOW}
    )
    assert w.calls("priorities", "expire_for_community_request")[2] == Call(
        "priorities", "expire_for_community_request", (uid(4),), {}
    )
    assert w.calls("tasks", "cancel_pending_for_context") == [
        Call(
            "tasks",
            "cancel_pending_for_context",
            (uid(n),),
            {"task_types": ["community_request_available"], "reason": f"request closed: {reason}"},
        )
        for n, reason in ((1, "expired"), (2, "sufficient_responses"), (4, "expired"))
    ]
    assert w.log.committed_events == []
    assert w.committed() == [
        closed_event(uid(1), "expired"),
        closed_event(uid(2), "sufficient_responses"),
        closed_event(uid(4), "expired"),
    ]
    [line] = records(caplog, "community requests closed")
    assert line.levelno == logging.INFO
    assert line.closed == {"expired": 2, "sufficient_responses": 1}  # type: ignore[attr-defined]


def test_a_closure_run_with_nothing_to_close_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    w = closure_world([due(1, asks=("asked",))])
    report = close_due_requests(w.uow, now=NOW, limit=7)
    assert report.as_dict() == {"examined": 1, "closed": {}}
    assert w.calls("community_requests", "due_for_closure")[0].kwargs["limit"] == 7
    assert records(caplog, "community requests closed") == []


def test_the_hourly_job_closes_one_batch_in_its_own_committed_unit_of_work() -> None:
    log = UowLog()
    requests = ScriptedRepo("community_requests", log, due_for_closure=[due(1, expires_at=NOW)], finish=3)
    repos = {
        "community_requests": requests,
        "community_responses": ScriptedRepo("community_responses", log, close_for_request=1),
        "tasks": ScriptedRepo("tasks", log, cancel_pending_for_context=0),
        "priorities": ScriptedRepo("priorities", log, expire_for_community_request=0),
    }
    report = run_closure(uow_factory(log, **repos), now=NOW)
    assert report.as_dict() == {"examined": 1, "closed": {"expired": 1}}
    assert (log.entered, log.commits, log.exits_without_commit) == (1, 1, 0)
    assert log.committed_events == [closed_event(uid(1), "expired")]
    assert log.of("community_requests", "due_for_closure")[0].kwargs["limit"] == COMMUNITY_CLOSURE_BATCH


def cancel_world(request: LockedRequest | None, *, cancelled: bool = True, left: Any = ()) -> World:
    w = world(lock=request, cancel_requester=cancelled, requesters=list(left), finish=3)
    w.responses.answer("close_for_request", 1)
    return w


def test_the_last_requester_withdrawing_cancels_the_request() -> None:
    w = cancel_world(locked())
    status = cancel_request(
        w.uow, request_id=REQUEST, user_id=REQUESTER, now=NOW, requesting_agent_type="concierge"
    )
    assert status == "cancelled"
    assert w.calls("community_requests", "cancel_requester") == [
        Call(
            "community_requests",
            "cancel_requester",
            (REQUEST, REQUESTER),
            {"now": NOW, "requesting_agent_type": "concierge"},
        )
    ]
    assert w.calls("community_requests", "finish") == [
        Call(
            "community_requests",
            "finish",
            (REQUEST,),
            {"status": "cancelled", "now": NOW, "message": THANK_YOU},
        )
    ]
    assert w.calls("tasks", "cancel_pending_for_context")[0].kwargs == {
        "task_types": ["community_request_available"],
        "reason": "request cancelled: manual",
    }
    assert w.calls("priorities", "expire_for_community_request")[0].args == (REQUEST,)
    [event] = w.committed()
    assert event == closed_event(REQUEST, "manual", "cancelled")


def test_a_withdrawal_leaves_the_request_open_while_others_wait() -> None:
    w = cancel_world(locked(), left=[requester(OTHER)])
    status = cancel_request(w.uow, request_id=REQUEST, user_id=REQUESTER, now=NOW)
    assert status == "withdrawn"
    assert w.log.methods() == [
        "community_requests.lock",
        "community_requests.cancel_requester",
        "community_requests.requesters",
    ]
    assert w.calls("community_requests", "requesters")[0].args == (REQUEST,)
    assert w.calls("community_requests", "cancel_requester")[0].kwargs["requesting_agent_type"] is None
    assert w.calls("community_requests", "finish") == [] and w.committed() == []


def test_a_withdrawal_from_a_finished_request_reports_its_status() -> None:
    w = cancel_world(locked(status="closed"))
    assert cancel_request(w.uow, request_id=REQUEST, user_id=REQUESTER, now=NOW) == "closed"
    assert w.log.methods() == ["community_requests.lock", "community_requests.cancel_requester"]


def test_only_a_requester_may_withdraw_and_only_from_a_known_request() -> None:
    w = cancel_world(locked(), cancelled=False)
    with pytest.raises(NotARequester) as err:
        cancel_request(w.uow, request_id=REQUEST, user_id=OTHER, now=NOW)
    assert str(err.value) == f"member {OTHER} is not waiting on request {REQUEST}"
    assert w.calls("community_requests", "finish") == []
    w = cancel_world(None)
    with pytest.raises(UnknownRequest, match=str(REQUEST)):
        cancel_request(w.uow, request_id=REQUEST, user_id=REQUESTER, now=NOW)
    assert w.log.methods() == ["community_requests.lock"]
