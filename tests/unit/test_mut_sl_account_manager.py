"""The Account Manager's use case (``shared/service_layer/account_manager.py``), example by example.

Written against the module's mutmut survivors (issue #15 item 7): a busy run and its review task,
the events read since the watermark and the watermark moved, goal and challenge mentions, each
source list turned into its priority row, the member's own items, the 2-strike dormancy with its
re-engagement checks cancelled, what happens to a live row whose source moved on, the LLM scores
kept or redone and the offline brain, the top 10 and the rows that fell out, ``priority.update``
and ``account_manager.processing.completed``, the pinned answers and impact notes, and the
handlers' member look-ups. The repositories are ``tests/fakes/uow.py``'s ``ScriptedRepo``: every
call is recorded, so each test asserts what the run asked the database for. The SQL behind them
is tested on Postgres (tests/integration/test_account_manager.py). mutmut with this file alone:
1,682 of 1,710 mutants killed; the 28 left are equivalent, each with its reason in docs/testing.md
("mutmut: account_manager.py").
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from shared.adapters.llm import LlmUnavailable
from shared.adapters.repositories.events import MemberEvent
from shared.adapters.repositories.messages import InboundText
from shared.adapters.repositories.priorities import ManagedMember, MemberPriority, RankedPriority
from shared.adapters.repositories.priority_sources import (
    FinishedResearch,
    OpenCommunityRequest,
    OpenConnectionRequest,
    OpenIntroOffer,
    OpenIntroOpportunity,
    PinnedResponse,
    RequestOfResponse,
    SiblingTransition,
    SourceStatus,
)
from shared.adapters.repositories.tasks import NewTask
from shared.adapters.repositories.users import UserLock
from shared.domain.constants import PRIORITY_DORMANT_AFTER_PRESENTATIONS, TASK_MAX_RETRIES
from shared.domain.events import Event
from shared.domain.priorities import (
    COMMUNITY_RESPONSE_SCORE,
    EXPERT_IMPACT_SCORE,
    GOAL_TTL,
    LLM_SCORE_MAX_AGE,
    SOLUTION_UPDATE_TTL,
    TOP_PRIORITIES,
    URGENT_SCORE,
    Candidate,
    ItemType,
)
from shared.service_layer.account_manager import (
    BUSY_RETRY_AFTER,
    EVENTS_PER_RUN,
    PRIORITY_UPDATE,
    PROCESSING_COMPLETED,
    RELAY_QUESTION_MAX_CHARS,
    RELAY_SUMMARY_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    RunInputs,
    RunResult,
    handle_event,
    handle_task,
    request_review,
    run_for_member,
    schedule_account_manager_reviews,
    schedule_reviews,
)
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps
from tests.fakes.llm import ScriptedLlm
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.account_manager"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SINCE = NOW - 3 * DAY
USER = UUID(int=1)


def uid(n: int) -> UUID:
    return UUID(int=1000 + n)


# --- the world the run reads ----------------------------------------------------------------------


def managed(**fields: Any) -> ManagedMember:
    values: dict[str, Any] = {
        "id": USER,
        "verified": True,
        "opted_out": False,
        "first_name": "Ana",
        "last_name": "Ruiz",
        "company": "Lumen Labs",
        "title": "CFO",
        "expertise": ("finance", "pricing"),
        "poc_agent_type": "concierge",
        "goal": None,
        "events_read_until": SINCE,
        "runs": 3,
        "answers_given": 2,
    }
    values.update(fields)
    return ManagedMember(**values)


def prow(item_type: str, item_id: UUID, **fields: Any) -> MemberPriority:
    """An existing priority row of the member."""
    values: dict[str, Any] = {
        "id": uuid4(),
        "item_type": str(item_type),
        "item_id": item_id,
        "priority_rank": 1,
        "value_score": 50.0,
        "status": "active",
        "content": None,
        "metadata": {},
        "presentation_count": 0,
        "last_presented_at": None,
        "item_summary": None,
        "expires_at": None,
        "score_source": "rules",
        "score_fingerprint": None,
        "score_reason": None,
        "scored_at": None,
        "created_at": NOW - DAY,
    }
    values.update(fields)
    return MemberPriority(**values)


def opp(n: int, score: float = 75, **fields: Any) -> OpenIntroOpportunity:
    """An open intro opportunity scoring ``score`` by the §6 table (5 days old)."""
    strength = "first_degree" if score > 80 else "unknown"
    bounty = int(2 * (score - (65 if score > 80 else 50)))
    values: dict[str, Any] = {
        "id": uid(n),
        "first_name": "Pat",
        "last_name": "Lee",
        "prospect_company": "Globex",
        "prospect_title": "CTO",
        "innovator_name": "Ina Vance",
        "intro_context": "met at a conference",
        "bounty_credits": bounty,
        "connection_strength": strength,
        "status": "open",
        "presentation_count": 0,
        "last_presented_at": None,
        "created_at": NOW - 5 * DAY - timedelta(minutes=n),
        "expires_at": NOW + 30 * DAY,
    }
    values.update(fields)
    return OpenIntroOpportunity(**values)


def creq(n: int, **fields: Any) -> OpenConnectionRequest:
    values: dict[str, Any] = {
        "id": uid(n),
        "requestor_name": "Rita Moss",
        "requestor_company": "Initech",
        "requestor_title": "CEO",
        "intro_context": "wants pricing advice",
        "vouched_by_user_ids": (uid(901),),
        "requestor_credits_spent": 50,
        "bounty_credits": 20,
        "status": "open",
        "presentation_count": 0,
        "last_presented_at": None,
        "created_at": NOW - 5 * DAY,
        "expires_at": NOW + 9 * DAY,
    }
    values.update(fields)
    return OpenConnectionRequest(**values)


def offer(n: int, **fields: Any) -> OpenIntroOffer:
    values: dict[str, Any] = {
        "id": uid(n),
        "role": "introducee",
        "prospect_name": "Pat Lee",
        "prospect_company": "Globex",
        "prospect_title": "CTO",
        "prospect_context": "runs infra at Globex",
        "context_type": "nomination",
        "bounty_credits": 30,
        "status": "pending_introducee_response",
        "offering_name": "Olga Berg",
        "introducee_name": "Ivan Cole",
        "created_at": NOW - 3 * DAY,
        "expires_at": NOW + 4 * DAY,
    }
    values.update(fields)
    return OpenIntroOffer(**values)


def question(n: int, **fields: Any) -> OpenCommunityRequest:
    values: dict[str, Any] = {
        "id": uid(n),
        "question": "How should we price a usage-based developer tool for mid-market buyers in Europe?",
        "category": "pricing",
        "expertise_needed": ("pricing", "saas"),
        "urgency": "high",
        "request_summary": None,
        "status": "open",
        "presentation_count": 0,
        "last_presented_at": None,
        "created_at": NOW - 2 * DAY,
        "expires_at": NOW + 5 * DAY,
    }
    values.update(fields)
    return OpenCommunityRequest(**values)


def research(n: int, **fields: Any) -> FinishedResearch:
    values: dict[str, Any] = {
        "id": uid(n),
        "request_description": "a vendor for SOC 2 automation that works with our small security team",
        "category": "security",
        "urgency": "medium",
        "completed_at": NOW - 2 * DAY,
        "matched_innovators": 3,
    }
    values.update(fields)
    return FinishedResearch(**values)


def response(**fields: Any) -> PinnedResponse:
    values: dict[str, Any] = {
        "id": uid(500),
        "request_id": uid(501),
        "expert_user_id": uid(502),
        "response_text": "  Charge per seat first.  ",
        "usefulness_score": 4,
        "impact_description": "They changed their pricing page.",
        "credits_awarded": 25,
        "requesting_user_id": USER,
        "question": "How do we price?",
        "category": "pricing",
        "expert_first_name": "Eve",
    }
    values.update(fields)
    return PinnedResponse(**values)


class World:
    """The repositories a run reads and writes, each a ``ScriptedRepo`` over one ``UowLog``."""

    def __init__(self) -> None:
        self.log = UowLog()
        self.member: ManagedMember | None = managed()
        self.existing: list[MemberPriority] = []
        self.events: list[MemberEvent] = []
        self.inbound: list[InboundText] = []
        self.sources: dict[tuple[str, UUID], SourceStatus] = {}
        self.task_answers: list[UUID | None] = []
        self.cancelled: list[UUID] = []
        self.users = ScriptedRepo("users", self.log, try_lock=True)
        self.priorities = ScriptedRepo(
            "priorities",
            self.log,
            managed_member=lambda user_id: None if self.member is None else replace(self.member, id=user_id),
            of_member=lambda user_id: list(self.existing),
            set_status=lambda user_id, ids, status: len(ids),
            delete=lambda user_id, ids: len(ids),
            write=None,
            advance_watermark=None,
            delete_for_items=[],
            set_item_status=1,
            schedule_reviews=[],
        )
        self.priority_sources = ScriptedRepo(
            "priority_sources",
            self.log,
            intro_opportunities_for_connector=[],
            connection_requests_for_introducee=[],
            intro_offers_for_member=[],
            community_requests_for_expert=[],
            research_finished_for_member=[],
            statuses=self._statuses,
            transition_sibling_opportunities=[],
            mark_intro_sources_dormant=None,
            members_of_intro_items=[],
            community_request=None,
            community_response=None,
        )
        self.events_repo = ScriptedRepo(
            "events", self.log, for_member_since=lambda *a, **k: list(self.events)
        )
        self.messages = ScriptedRepo("messages", self.log, inbound_by_ids=lambda *a, **k: list(self.inbound))
        self.tasks = ScriptedRepo(
            "tasks",
            self.log,
            add=self._add,
            cancel_reengagement_for_items=lambda *a, **k: list(self.cancelled),
        )

    def _statuses(self, ids_by_type: dict[str, list[UUID]]) -> dict[tuple[str, UUID], SourceStatus]:
        return {k: s for k, s in self.sources.items() if k[1] in ids_by_type.get(k[0], ())}

    def _add(self, task: NewTask) -> UUID | None:
        return self.task_answers.pop(0) if self.task_answers else uuid4()

    def source(self, item_type: str, item_id: UUID, status: str, presentation_count: int = 0) -> None:
        self.sources[(item_type, item_id)] = SourceStatus(item_type, item_id, status, presentation_count)

    def uow(self) -> RecordingUow:
        return RecordingUow(
            self.log,
            users=self.users,
            priorities=self.priorities,
            priority_sources=self.priority_sources,
            events=self.events_repo,
            messages=self.messages,
            tasks=self.tasks,
        )

    # what the run did
    def calls(self, repo: str, method: str) -> list[Call]:
        return self.log.of(repo, method)

    def written(self) -> list[RankedPriority]:
        """The ranked rows of the run's first write (the top)."""
        writes = self.calls("priorities", "write")
        return list(writes[-2].args[1])

    def stale_written(self) -> list[RankedPriority]:
        return list(self.calls("priorities", "write")[-1].args[1])

    def by_id(self) -> dict[UUID, RankedPriority]:
        return {r.item_id: r for r in self.written()}

    def tasks_added(self) -> list[NewTask]:
        return [c.args[0] for c in self.calls("tasks", "add")]


@pytest.fixture
def world() -> World:
    return World()


def run(world: World, inputs: RunInputs | None = None, llm: ScriptedLlm | None = None) -> RunResult:
    with world.uow() as uow:
        result = run_for_member(
            uow.as_postgres(), USER, inputs or RunInputs(trigger="review"), llm=llm, now=NOW
        )
        uow.commit()
    return result


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {n: record.__dict__[n] for n in names}


def scoring(*scores: tuple[int, bool] | int, reason: str = "because") -> ScriptedLlm:
    """An LLM that answers one scoring call: ``i1``.. get these scores (``(score, stale)``)."""
    entries = []
    for n, s in enumerate(scores, 1):
        score, stale = s if isinstance(s, tuple) else (s, False)
        entries.append({"key": f"i{n}", "score": score, "stale": stale, "reason": f"{reason} {n}"})
    llm = ScriptedLlm()
    llm.decision("score_items", scores=entries)
    return llm


def request_json(llm: ScriptedLlm, n: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The member block and the item lines of the ``n``-th scoring call."""
    content = llm.requests[n].messages[0]["content"]
    head, items = content.split("\n\nItems:\n")
    return json.loads(head.removeprefix("Member:\n")), [json.loads(line) for line in items.splitlines()]


def review_task(user_id: UUID, trigger: str, when: datetime, **context: str) -> NewTask:
    return NewTask(
        task_type="account_manager_review",
        agent_type="account_manager",
        user_id=user_id,
        scheduled_for=when,
        priority="medium",
        context_json={"trigger": trigger, **context},
        context_id=None,
        context_type=None,
        created_by="account_manager",
        dedupe_key=f"account_manager_review:{user_id}:{trigger}",
        max_retries=TASK_MAX_RETRIES,
    )


# --- a busy member, no member ---------------------------------------------------------------------


def test_a_member_run_elsewhere_gets_a_review_in_a_minute_and_nothing_else(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.users.answer("try_lock", False)
    result = run(world)
    assert result == RunResult(USER, "busy", tasks_created=1)
    assert world.log.methods() == ["users.try_lock", "tasks.add"]
    assert world.calls("users", "try_lock")[0] == Call(
        "users", "try_lock", (USER, UserLock.ACCOUNT_MANAGER), {}
    )
    assert world.tasks_added() == [review_task(USER, "busy_retry", NOW + BUSY_RETRY_AFTER)]
    [line] = logged(caplog, "account manager run for this member already in progress; no-op")
    assert line.levelno == logging.INFO and line.__dict__["user_id"] == str(USER)
    assert world.log.committed_events == []


def test_busy_with_a_review_already_pending_creates_no_task(world: World) -> None:
    world.users.answer("try_lock", False)
    world.task_answers = [None]
    assert run(world) == RunResult(USER, "busy", tasks_created=0)


@pytest.mark.parametrize(
    "member",
    [None, managed(verified=False), managed(opted_out=True), managed(verified=False, opted_out=True)],
)
def test_an_unknown_unverified_or_opted_out_member_is_not_ranked(
    world: World, member: ManagedMember | None
) -> None:
    world.member = member
    assert run(world) == RunResult(USER, "no_member")
    assert world.log.methods() == ["users.try_lock", "priorities.managed_member"]
    assert world.calls("priorities", "managed_member")[0].args == (USER,)
    assert world.log.committed_events == []


# --- events, the watermark, the completed event and the log line ----------------------------------


def test_events_since_the_watermark_are_read_and_the_watermark_moves_to_the_newest(world: World) -> None:
    world.events = [
        MemberEvent(uuid4(), "intro.opportunity_created", {}, SINCE + timedelta(hours=5)),
        MemberEvent(uuid4(), "user.verified", {}, SINCE + timedelta(hours=9)),
        MemberEvent(uuid4(), "user.updated", {}, SINCE + timedelta(hours=2)),
    ]
    trigger = "t" * 60
    result = run(world, RunInputs(trigger=trigger))
    assert result.events_read == 3 and result.status == "ranked"
    [read] = world.calls("events", "for_member_since")
    assert read.args == (USER,)
    assert read.kwargs == {"since": SINCE, "excluding_creator": "account_manager", "limit": EVENTS_PER_RUN}
    [advance] = world.calls("priorities", "advance_watermark")
    assert advance.args == (USER,)
    assert advance.kwargs == {
        "events_read_until": SINCE + timedelta(hours=9),
        "now": NOW,
        "trigger": "t" * 50,
    }


@pytest.mark.parametrize("watermark", [SINCE, None])
def test_no_events_leave_the_watermark_where_it_was(world: World, watermark: datetime | None) -> None:
    world.member = managed(events_read_until=watermark)
    run(world, RunInputs(trigger="user.verified"))
    [advance] = world.calls("priorities", "advance_watermark")
    assert advance.kwargs == {"events_read_until": watermark, "now": NOW, "trigger": "user.verified"}
    assert world.calls("events", "for_member_since")[0].kwargs["since"] == watermark


def test_an_empty_run_reads_writes_nothing_and_completes(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    result = run(world)
    assert result == RunResult(USER, "ranked")
    assert world.log.methods() == [
        "users.try_lock",
        "priorities.managed_member",
        "events.for_member_since",
        "priorities.of_member",
        "priority_sources.transition_sibling_opportunities",
        "priority_sources.intro_opportunities_for_connector",
        "priority_sources.connection_requests_for_introducee",
        "priority_sources.intro_offers_for_member",
        "priority_sources.community_requests_for_expert",
        "priority_sources.research_finished_for_member",
        "priorities.set_status",
        "priorities.set_status",
        "priorities.delete",
        "priorities.write",
        "priorities.write",
        "priorities.advance_watermark",
    ]
    assert [c.args for c in world.calls("priorities", "set_status")] == [
        (USER, [], "actioned"),
        (USER, [], "expired"),
    ]
    assert world.calls("priorities", "delete")[0].args == (USER, [])
    assert [c.args for c in world.calls("priorities", "write")] == [(USER, []), (USER, [])]
    assert world.calls("priorities", "of_member")[0].args == (USER,)
    assert [e.event_type for e in world.log.committed_events] == [PROCESSING_COMPLETED]
    assert logged(caplog, "priorities scored by the offline brain") == []
    assert logged(caplog, "priorities marked dormant (presented twice)") == []


def test_the_completed_event_and_the_run_line_carry_the_runs_figures(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.events = [MemberEvent(uuid4(), "user.updated", {}, SINCE + timedelta(hours=1))]
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 90), opp(2, 60)])
    world.priority_sources.answer(
        "community_requests_for_expert", [question(3, category="legal", expertise_needed=("legal",))]
    )
    gone = prow("connection_request", uid(4))
    world.existing = [gone]
    world.priority_sources.answer(
        "transition_sibling_opportunities", [SiblingTransition(uid(5), uid(6), "paused")]
    )
    world.priorities.answer("delete_for_items", [uid(6)])
    result = run(world, RunInputs(trigger="intro.opportunity_created"))
    assert (result.written, result.removed, result.urgent, result.tasks_created) == (3, 1, 1, 1)
    assert (result.llm_calls, result.fallback_items, result.llm_items) == (0, 1, 0)
    assert result.top[0] == ("intro_opportunity", str(uid(1)), 90.0)
    completed = [e for e in world.log.committed_events if e.event_type == PROCESSING_COMPLETED]
    assert completed == [
        Event(
            event_type=PROCESSING_COMPLETED,
            aggregate_type="user",
            aggregate_id=USER,
            payload={
                "userId": str(USER),
                "processedEvents": 1,
                "urgentItems": 1,
                "prioritiesUpdated": 3,
                "tasksCreated": 1,
                "completedAt": NOW.isoformat(),
            },
            created_by="account_manager",
        )
    ]
    [line] = logged(caplog, "account manager run")
    assert line.levelno == logging.INFO
    assert fields(
        line,
        "user_id",
        "trigger",
        "events_read",
        "written",
        "removed",
        "dormant",
        "urgent",
        "llm_calls",
        "fallback_items",
    ) == {
        "user_id": str(USER),
        "trigger": "intro.opportunity_created",
        "events_read": 1,
        "written": 3,
        "removed": 1,
        "dormant": 0,
        "urgent": 1,
        "llm_calls": 0,
        "fallback_items": 1,
    }


def test_events_are_kept_only_when_the_caller_commits(world: World) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 90)])
    with world.uow() as uow:
        run_for_member(uow.as_postgres(), USER, RunInputs(trigger="review"), llm=None, now=NOW)
    assert world.log.committed_events == [] and world.log.commits == 0


def test_the_result_as_a_dict() -> None:
    result = RunResult(
        USER,
        "ranked",
        events_read=1,
        written=2,
        removed=3,
        dormant=4,
        tasks_cancelled=5,
        urgent=6,
        llm_calls=7,
        llm_items=8,
        fallback_items=9,
        tasks_created=10,
    )
    assert result.as_dict() == {
        "user_id": str(USER),
        "status": "ranked",
        "events_read": 1,
        "written": 2,
        "removed": 3,
        "dormant": 4,
        "urgent": 6,
        "llm_calls": 7,
        "fallback_items": 9,
    }


# --- goal and challenge mentions ------------------------------------------------------------------


def test_inbound_texts_with_goal_keywords_become_goals_and_challenges(world: World) -> None:
    m1, m2, m3, m4, m5, m6 = (uid(n) for n in range(11, 17))
    world.events = [
        MemberEvent(uuid4(), "message.received", {"message_id": str(m1)}, SINCE + timedelta(hours=1)),
        MemberEvent(uuid4(), "message.received", {"messageId": str(m2)}, SINCE + timedelta(hours=2)),
        MemberEvent(uuid4(), "message.received", {"message_id": "not-a-uuid"}, SINCE + timedelta(hours=3)),
        MemberEvent(uuid4(), "message.received", {}, SINCE + timedelta(hours=3)),
        MemberEvent(uuid4(), "message.sent", {"message_id": str(m6)}, SINCE + timedelta(hours=4)),
    ]
    long_goal = "My goal is " + "to grow revenue " * 40
    world.inbound = [
        InboundText(m1, long_goal, NOW - 4 * DAY),
        InboundText(m2, "We keep STRUGGLING with churn", NOW - 3 * DAY),
        InboundText(m3, "the hardest problem is hiring", NOW - 2 * DAY),
        InboundText(m4, "thanks, sounds good", NOW - DAY),
        InboundText(m5, "Our biggest Challenge: pricing", NOW - DAY),
    ]
    llm = scoring(70, 71, 72, 73)
    run(world, RunInputs(trigger="explicit_mention", message_ids=(m3,)), llm=llm)
    [lookup] = world.calls("messages", "inbound_by_ids")
    assert lookup.args[0] == USER and sorted(lookup.args[1]) == sorted([m1, m2, m3])
    rows = world.by_id()
    assert set(rows) == {m1, m2, m3, m5}
    assert {k: rows[k].item_type for k in rows} == {
        m1: "goal",
        m2: "challenge",
        m3: "challenge",
        m5: "challenge",
    }
    goal = rows[m1]
    assert goal.content == " ".join(long_goal.split())[:499].rstrip() + "…"
    assert goal.item_summary == "My goal is to grow revenue to grow revenue to grow revenue…"
    assert goal.item_summary is not None and len(goal.item_summary) == SUMMARY_MAX_CHARS - 1
    assert goal.expires_at == NOW - 4 * DAY + GOAL_TTL
    assert goal.item_metadata == {"message_id": str(m1)}
    assert goal.score_source == "llm"
    assert rows[m2].item_summary == "We keep STRUGGLING with churn"
    _, items = request_json(llm)
    assert {i["kind"] for i in items} == {"goal", "challenge"}


def test_no_message_ids_means_no_lookup(world: World) -> None:
    world.events = [MemberEvent(uuid4(), "user.updated", {"message_id": str(uid(1))}, SINCE)]
    run(world)
    assert world.calls("messages", "inbound_by_ids") == []


# --- what scoring knows of the member ---------------------------------------------------------------


def test_the_member_block_carries_the_profile_and_every_live_goal(world: World) -> None:
    world.member = managed(goal="raise a seed round", answers_given=4)
    world.existing = [
        prow("goal", uid(1), content="hire a CFO", score_source="llm"),
        prow("challenge", uid(2), content="churn in Q3", status="presented", score_source="llm"),
        prow("goal", uid(3), content="an old goal", status="expired"),
        prow("community_request", uid(4), content="not a goal"),
        prow("goal", uid(5), content=None, score_source="llm"),
    ]
    world.source("community_request", uid(4), "open")
    m = uid(20)
    world.events = [MemberEvent(uuid4(), "message.received", {"message_id": str(m)}, SINCE)]
    world.inbound = [InboundText(m, "working on pricing", NOW - DAY)]
    llm = scoring(60, 61, 62, 63)
    run(world, llm=llm)
    member, _ = request_json(llm)
    assert member == {
        "title": "CFO",
        "company": "Lumen Labs",
        "expertise": ["finance", "pricing"],
        "goals_and_challenges": "raise a seed round hire a CFO churn in Q3 working on pricing",
        "community_answers_given": 4,
    }
    assert llm.requests[0].user_id == USER
    empty = world.by_id()[uid(5)]
    assert (empty.content, empty.item_summary) == (None, None)


def test_a_member_with_no_profile_or_goal(world: World) -> None:
    world.member = managed(title=None, company=None, expertise=(), goal=None, answers_given=0)
    world.priority_sources.answer("community_requests_for_expert", [question(1)])
    llm = scoring(60)
    run(world, llm=llm)
    member, _ = request_json(llm)
    assert member == {
        "title": None,
        "company": None,
        "expertise": [],
        "goals_and_challenges": None,
        "community_answers_given": 0,
    }


# --- sibling opportunities ----------------------------------------------------------------------------


def test_siblings_of_a_taken_prospect_leave_their_connectors_lists(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    a, b = uid(50), uid(51)
    world.priority_sources.answer(
        "transition_sibling_opportunities",
        [
            SiblingTransition(uid(1), a, "paused"),
            SiblingTransition(uid(2), b, "cancelled"),
            SiblingTransition(uid(3), a, "paused"),
        ],
    )
    world.priorities.answer("delete_for_items", [a, a, b])
    world.task_answers = [uuid4(), None]
    result = run(world)
    assert world.calls("priority_sources", "transition_sibling_opportunities")[0].args == (USER,)
    [deleted] = world.calls("priorities", "delete_for_items")
    assert deleted.args == ("intro_opportunity", [uid(1), uid(2), uid(3)])
    when = NOW + BUSY_RETRY_AFTER
    assert world.tasks_added() == [
        review_task(a, "sibling_transition", when),
        review_task(b, "sibling_transition", when),
    ]
    assert result.tasks_created == 1
    [line] = logged(caplog, "sibling intro opportunities transitioned")
    assert line.levelno == logging.INFO
    assert fields(line, "user_id", "paused", "cancelled") == {
        "user_id": str(USER),
        "paused": 2,
        "cancelled": 1,
    }


def test_no_siblings_no_deletes(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    result = run(world)
    assert world.calls("priorities", "delete_for_items") == [] and result.tasks_created == 0
    assert logged(caplog, "sibling intro opportunities transitioned") == []


# --- each source list turned into its row -----------------------------------------------------------


def test_the_source_lists_are_asked_for_this_member_now(world: World) -> None:
    named = (uid(70), uid(71))
    run(world, RunInputs(trigger="community_request_available", community_request_ids=named))
    assert world.calls("priority_sources", "intro_opportunities_for_connector")[0] == Call(
        "priority_sources", "intro_opportunities_for_connector", (USER,), {"now": NOW, "dormant_after": 2}
    )
    assert world.calls("priority_sources", "connection_requests_for_introducee")[0] == Call(
        "priority_sources", "connection_requests_for_introducee", (USER,), {"now": NOW, "dormant_after": 2}
    )
    assert world.calls("priority_sources", "intro_offers_for_member")[0] == Call(
        "priority_sources", "intro_offers_for_member", (USER,), {"now": NOW}
    )
    assert world.calls("priority_sources", "community_requests_for_expert")[0] == Call(
        "priority_sources",
        "community_requests_for_expert",
        (USER,),
        {"now": NOW, "dormant_after": PRIORITY_DORMANT_AFTER_PRESENTATIONS, "named_ids": named},
    )
    assert world.calls("priority_sources", "research_finished_for_member")[0] == Call(
        "priority_sources", "research_finished_for_member", (USER,), {"since": NOW - SOLUTION_UPDATE_TTL}
    )


def test_an_intro_opportunity_row(world: World) -> None:
    shown = NOW - 2 * DAY
    o = opp(1, 90, status="presented", presentation_count=1, last_presented_at=shown)
    world.priority_sources.answer("intro_opportunities_for_connector", [o])
    run(world)
    assert world.written() == [
        RankedPriority(
            priority_rank=1,
            item_type="intro_opportunity",
            item_id=uid(1),
            value_score=90.0,
            status="presented",
            content=None,
            presentation_count=1,
            last_presented_at=shown,
            item_summary="Intro Pat Lee at Globex",
            item_primary_name="Pat Lee",
            item_secondary_name="Ina Vance",
            item_context="earn 50 credits",
            item_metadata={"bounty_credits": 50, "prospect_company": "Globex"},
            expires_at=NOW + 30 * DAY,
            score_source="rules",
            score_fingerprint=Candidate(
                ItemType.INTRO_OPPORTUNITY, uid(1), o.created_at, credits=50
            ).fingerprint,
            score_reason=None,
            scored_at=NOW,
        )
    ]


def test_an_open_intro_opportunity_with_no_company_or_first_name(world: World) -> None:
    o = opp(1, 60, first_name="", prospect_company=None, created_at=NOW - DAY)
    world.priority_sources.answer("intro_opportunities_for_connector", [o])
    run(world)
    [r] = world.written()
    assert (r.status, r.item_summary, r.item_primary_name, r.value_score) == (
        "active",
        "Intro Lee at their company",
        "Lee",
        70.0,  # 50 + 10 bounty + 10 under 3 days old
    )


def test_a_connection_request_row(world: World) -> None:
    c = creq(2, status="presented", presentation_count=1, last_presented_at=NOW - DAY, created_at=NOW - DAY)
    world.priority_sources.answer("connection_requests_for_introducee", [c, creq(3, vouched_by_user_ids=())])
    run(world)
    first, second = world.written()
    assert first == RankedPriority(
        priority_rank=1,
        item_type="connection_request",
        item_id=uid(2),
        value_score=100.0,  # 60 + 20 + 10 + 15 under two days, clamped
        status="presented",
        content=None,
        presentation_count=1,
        last_presented_at=NOW - DAY,
        item_summary="Rita Moss wants to meet you",
        item_primary_name="Rita Moss",
        item_secondary_name=None,
        item_context="wants pricing advice",
        item_metadata={"requestor_company": "Initech", "vouch_count": 1},
        expires_at=NOW + 9 * DAY,
        score_source="rules",
        score_fingerprint=Candidate(
            ItemType.CONNECTION_REQUEST, uid(2), c.created_at, credits=20
        ).fingerprint,
        score_reason=None,
        scored_at=NOW,
    )
    assert (second.item_id, second.value_score, second.status, second.priority_rank) == (
        uid(3),
        70.0,
        "active",
        2,
    )
    assert second.item_metadata == {"requestor_company": "Initech", "vouch_count": 0}


def test_an_intro_offer_row_for_the_introducee_and_for_the_connector(world: World) -> None:
    world.priority_sources.answer(
        "intro_offers_for_member",
        [
            offer(1),
            offer(2, role="connector", created_at=NOW - timedelta(hours=2)),
            offer(3, offering_name=None),
            offer(4, role="connector", introducee_name=None),
        ],
    )
    run(world)
    rows = world.by_id()
    assert rows[uid(2)] == RankedPriority(
        priority_rank=1,
        item_type="intro_offer",
        item_id=uid(2),
        value_score=85.0,  # 70 + 15 under a day
        status="active",
        content=None,
        presentation_count=0,
        last_presented_at=None,
        item_summary="Confirm your intro of Pat Lee to Ivan Cole",
        item_primary_name="Ivan Cole",
        item_secondary_name="Pat Lee",
        item_context="runs infra at Globex",
        item_metadata={"role": "connector", "bounty_credits": 30, "prospect_company": "Globex"},
        expires_at=NOW + 4 * DAY,
        score_source="rules",
        score_fingerprint=Candidate(
            ItemType.INTRO_OFFER, uid(2), NOW - timedelta(hours=2), credits=30
        ).fingerprint,
        score_reason=None,
        scored_at=NOW,
    )
    introducee = rows[uid(1)]
    assert introducee.value_score == 75.0  # 55 + 15 bounty + 5 nomination
    assert (introducee.item_summary, introducee.item_primary_name) == (
        "Olga Berg can introduce you to Pat Lee",
        "Olga Berg",
    )
    assert introducee.item_metadata == {
        "role": "introducee",
        "bounty_credits": 30,
        "prospect_company": "Globex",
    }
    assert rows[uid(3)].item_summary == "A member can introduce you to Pat Lee"
    assert rows[uid(4)].item_summary == "Confirm your intro of Pat Lee to a member"
    assert rows[uid(4)].value_score == 70.0


def test_an_offer_keeps_its_presentations_and_a_dormant_one_stays_out(world: World) -> None:
    world.priority_sources.answer("intro_offers_for_member", [offer(1), offer(2), offer(3)])
    shown = prow("intro_offer", uid(1), status="presented", presentation_count=1, value_score=75.0)
    asleep = prow("intro_offer", uid(2), status="dormant", presentation_count=2)
    world.existing = [shown, asleep]
    run(world)
    rows = world.by_id()
    assert set(rows) == {uid(1), uid(3)}
    assert (rows[uid(1)].presentation_count, rows[uid(3)].presentation_count) == (1, 0)
    assert world.calls("priorities", "set_status")[-1].args[2] != "dormant"


def test_a_community_request_row(world: World) -> None:
    q = question(1, presentation_count=1, last_presented_at=NOW - DAY, status="presented")
    world.priority_sources.answer("community_requests_for_expert", [q, question(2, category=None)])
    llm = scoring(77, 66)
    run(world, llm=llm)
    rows = world.by_id()
    text = f"{q.question} (urgency: high)"
    assert rows[uid(1)] == RankedPriority(
        priority_rank=1,
        item_type="community_request",
        item_id=uid(1),
        value_score=77.0,
        status="presented",
        content=text,
        presentation_count=1,
        last_presented_at=NOW - DAY,
        item_summary="How should we price a usage-based developer tool for mid-ma…",
        item_primary_name=None,
        item_secondary_name=None,
        item_context="pricing",
        item_metadata={"category": "pricing", "expertise_needed": ["pricing", "saas"]},
        expires_at=NOW + 5 * DAY,
        score_source="llm",
        score_fingerprint=Candidate(
            ItemType.COMMUNITY_REQUEST,
            uid(1),
            q.created_at,
            text=text,
            category="pricing",
            expertise=("pricing", "saas"),
        ).fingerprint,
        score_reason="because 1",
        scored_at=NOW,
    )
    assert rows[uid(2)].item_context == "expert input needed" and rows[uid(2)].status == "active"
    _, items = request_json(llm)
    assert items[0] == {
        "key": "i1",
        "kind": "community_request",
        "text": text,
        "category": "pricing",
        "expertise_needed": ["pricing", "saas"],
        "credits_offered": None,
        "age_days": 2.0,
    }


def test_a_finished_research_row(world: World) -> None:
    w = research(1)
    world.priority_sources.answer("research_finished_for_member", [w])
    llm = scoring(64)
    run(world, llm=llm)
    text = f"Research finished: {w.request_description} (3 matched solutions)"
    assert world.written() == [
        RankedPriority(
            priority_rank=1,
            item_type="solution_update",
            item_id=uid(1),
            value_score=64.0,
            status="active",
            content=text,
            presentation_count=0,
            last_presented_at=None,
            item_summary="Research ready: a vendor for SOC 2 automation that works wi…",
            item_primary_name=None,
            item_secondary_name=None,
            item_context="security",
            item_metadata={"category": "security", "matched": 3},
            expires_at=NOW - 2 * DAY + SOLUTION_UPDATE_TTL,
            score_source="llm",
            score_fingerprint=Candidate(
                ItemType.SOLUTION_UPDATE, uid(1), w.completed_at, text=text, category="security"
            ).fingerprint,
            score_reason="because 1",
            scored_at=NOW,
        )
    ]
    _, items = request_json(llm)
    assert items[0]["age_days"] == 2.0 and items[0]["kind"] == "solution_update"


def test_a_row_listed_twice_is_ranked_once(world: World) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 70), opp(1, 70), opp(2, 60)])
    result = run(world)
    assert [r.item_id for r in world.written()] == [uid(1), uid(2)] and result.written == 2


# --- the member's own items --------------------------------------------------------------------------


def test_live_goals_are_kept_until_they_expire(world: World) -> None:
    shown = NOW - 2 * DAY
    keep = prow(
        "goal",
        uid(1),
        content="hire a CFO by March",
        expires_at=NOW + timedelta(seconds=1),
        presentation_count=1,
        last_presented_at=shown,
        metadata={"message_id": "m"},
        item_summary="Hiring a CFO",
        value_score=None,
    )
    forever = prow("challenge", uid(2), content="churn " * 20, status="presented", value_score=None)
    due = prow("goal", uid(3), content="launch", expires_at=NOW)
    old = prow("goal", uid(4), content="old", status="actioned")
    world.existing = [due, keep, forever, old]  # an expired goal first: the others still count
    llm = scoring(70, 60)
    result = run(world, llm=llm)
    rows = world.by_id()
    assert set(rows) == {uid(1), uid(2)}
    assert rows[uid(1)] == RankedPriority(
        priority_rank=1,
        item_type="goal",
        item_id=uid(1),
        value_score=70.0,
        status="active",
        content="hire a CFO by March",
        presentation_count=1,
        last_presented_at=shown,
        item_summary="Hiring a CFO",
        item_primary_name=None,
        item_secondary_name=None,
        item_context=None,
        item_metadata={"message_id": "m"},
        expires_at=NOW + timedelta(seconds=1),
        score_source="llm",
        score_fingerprint=Candidate(
            ItemType.GOAL, uid(1), keep.created_at, text="hire a CFO by March"
        ).fingerprint,
        score_reason="because 1",
        scored_at=NOW,
    )
    assert rows[uid(2)].item_summary == "churn churn churn churn churn churn churn churn churn churn…"
    assert rows[uid(2)].item_type == "challenge" and rows[uid(2)].item_metadata is None
    # the expired goal: its row expires; no source look-up for goals
    assert [c.args for c in world.calls("priorities", "set_status")] == [
        (USER, [], "actioned"),
        (USER, [due.id], "expired"),
    ]
    assert world.calls("priority_sources", "statuses")[0].args == ({"goal": [uid(3)]},)
    assert result.removed == 0


def test_answers_and_impact_notes_stay_while_their_response_exists(world: World) -> None:
    answer = prow(
        "community_response",
        uid(1),
        content="Charge per seat",
        item_summary="Eve answered",
        metadata={"request_id": "r"},
        presentation_count=1,
        last_presented_at=NOW - DAY,
        expires_at=NOW + DAY,
        value_score=90.0,
    )
    note = prow("expert_impact", uid(2), content=None, item_summary=None, value_score=91.0)
    vanished_answer = prow("community_response", uid(3))
    vanished_note = prow("expert_impact", uid(4))
    old_answer = prow("community_response", uid(5), status="dormant")
    world.existing = [answer, note, vanished_note, vanished_answer, old_answer]  # an expiring row first
    world.source("community_response", uid(1), "open")
    world.source("community_response", uid(2), "open")
    world.source("community_response", uid(5), "open")
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(9, 95)])
    result = run(world)
    first = world.calls("priority_sources", "statuses")[0]
    assert first.args == ({"community_response": [uid(1), uid(2), uid(4), uid(3)]},)
    rows = world.written()
    assert [r.item_id for r in rows] == [uid(1), uid(9), uid(2)]  # the answer pinned first
    assert rows[0] == RankedPriority(
        priority_rank=1,
        item_type="community_response",
        item_id=uid(1),
        value_score=float(COMMUNITY_RESPONSE_SCORE),
        status="active",
        content="Charge per seat",
        presentation_count=1,
        last_presented_at=NOW - DAY,
        item_summary="Eve answered",
        item_primary_name=None,
        item_secondary_name=None,
        item_context=None,
        item_metadata={"request_id": "r"},
        expires_at=NOW + DAY,
        score_source="fixed",
        score_fingerprint=Candidate(
            ItemType.COMMUNITY_RESPONSE, uid(1), answer.created_at, text="Charge per seat"
        ).fingerprint,
        score_reason=None,
        scored_at=NOW,
    )
    assert (rows[2].value_score, rows[2].score_source, rows[2].item_summary, rows[2].content) == (
        float(EXPERT_IMPACT_SCORE),
        "fixed",
        None,
        None,
    )
    # the vanished answer is removed (no source row), the vanished impact note expires
    assert world.calls("priority_sources", "statuses")[1].args == (
        {"community_response": [uid(3)], "expert_impact": [uid(4)]},
    )
    assert world.calls("priorities", "delete")[0].args == (USER, [vanished_answer.id])
    assert world.calls("priorities", "set_status")[1].args == (USER, [vanished_note.id], "expired")
    assert result.removed == 1


# --- dormancy: presented twice ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_count", "row_count", "dormant"),
    [(0, 0, False), (1, 1, False), (2, 0, True), (1, 2, True), (0, 3, True)],
)
def test_an_item_presented_twice_goes_dormant_instead_of_being_scored(
    world: World, source_count: int, row_count: int, dormant: bool
) -> None:
    world.priority_sources.answer(
        "intro_opportunities_for_connector", [opp(1, 70, presentation_count=source_count)]
    )
    existing = prow("intro_opportunity", uid(1), status="presented", presentation_count=row_count)
    world.existing = [existing]
    result = run(world)
    assert (uid(1) in world.by_id()) is not dormant
    assert result.dormant == int(dormant)
    assert (world.calls("priorities", "set_status")[-1].args == (USER, [existing.id], "dormant")) is dormant


def test_a_new_item_presented_twice_elsewhere_is_still_ranked(world: World) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 70, presentation_count=2)])
    result = run(world)
    assert [r.item_id for r in world.written()] == [uid(1)] and result.dormant == 0


def test_dormant_rows_their_sources_and_their_reengagement_checks(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 70, presentation_count=2)])
    world.priority_sources.answer("connection_requests_for_introducee", [creq(2, presentation_count=2)])
    world.priority_sources.answer("community_requests_for_expert", [question(3, presentation_count=2)])
    rows = [
        prow("intro_opportunity", uid(1), status="presented"),
        prow("connection_request", uid(2), status="presented"),
        prow("community_request", uid(3), status="presented"),
        prow("intro_opportunity", uid(4), status="presented", presentation_count=2),  # gone, source open
    ]
    world.existing = rows
    world.source("intro_opportunity", uid(4), "open", 1)
    world.cancelled = [uuid4(), uuid4()]
    result = run(world)
    assert world.written() == []
    assert world.calls("priorities", "set_status")[-1].args == (USER, [r.id for r in rows], "dormant")
    [marked] = world.calls("priority_sources", "mark_intro_sources_dormant")
    assert marked.args == ()
    assert marked.kwargs == {
        "intro_opportunity_ids": [uid(1), uid(4)],
        "connection_request_ids": [uid(2)],
        "now": NOW,
    }
    [cancel] = world.calls("tasks", "cancel_reengagement_for_items")
    assert cancel.args == (USER, [uid(1), uid(2), uid(3), uid(4)]) and cancel.kwargs == {"now": NOW}
    assert (result.dormant, result.tasks_cancelled) == (4, 2)
    [line] = logged(caplog, "priorities marked dormant (presented twice)")
    assert line.levelno == logging.INFO
    assert fields(line, "user_id", "items", "reengagement_tasks_cancelled") == {
        "user_id": str(USER),
        "items": 4,
        "reengagement_tasks_cancelled": 2,
    }


def test_a_row_made_dormant_by_its_candidate_is_not_also_treated_as_gone(world: World) -> None:
    """Dormant once, and never looked up again as a row whose source moved on (which would also
    mark it removed, actioned or expired)."""
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 70, presentation_count=2)])
    rows = [
        prow("intro_opportunity", uid(1), status="presented"),
        prow("intro_opportunity", uid(4), status="presented", presentation_count=2),  # gone, source open
    ]
    world.existing = rows
    world.source("intro_opportunity", uid(4), "open", 1)
    result = run(world)
    [look] = world.calls("priority_sources", "statuses")
    assert look.args == ({"intro_opportunity": [uid(4)]},)
    changed = {c.args[2]: c.args[1] for c in world.calls("priorities", "set_status") if c.args[1]}
    assert set(changed) == {"dormant"}
    assert world.calls("priorities", "set_status")[-1].args == (USER, [r.id for r in rows], "dormant")
    assert result.dormant == 2


def test_a_dormant_community_request_marks_no_intro_source(world: World) -> None:
    world.priority_sources.answer("community_requests_for_expert", [question(3, presentation_count=2)])
    world.existing = [prow("community_request", uid(3), status="presented")]
    run(world)
    [marked] = world.calls("priority_sources", "mark_intro_sources_dormant")
    assert marked.kwargs == {"intro_opportunity_ids": [], "connection_request_ids": [], "now": NOW}


# --- live rows whose source moved on ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "source_count", "row_count", "outcome"),
    [
        ("accepted", 0, 0, "actioned"),
        ("pending_connector_confirmation", 0, 0, "actioned"),
        ("declined", 0, 0, "expired"),
        ("cancelled", 0, 0, "removed"),
        (None, 0, 0, "removed"),
        ("dormant", 0, 0, "dormant"),
        ("open", 0, 1, "removed"),
        ("open", 1, 0, "removed"),
        ("open", 2, 0, "dormant"),
        ("presented", 0, 2, "dormant"),
    ],
)
def test_a_live_row_with_no_candidate_follows_its_source(
    world: World, status: str | None, source_count: int, row_count: int, outcome: str
) -> None:
    row = prow("connection_request", uid(1), status="presented", presentation_count=row_count)
    world.existing = [row]
    if status is not None:
        world.source("connection_request", uid(1), status, source_count)
    result = run(world)
    [look] = world.calls("priority_sources", "statuses")
    assert look.args == ({"connection_request": [uid(1)]},)
    set_status = {c.args[2]: c.args[1] for c in world.calls("priorities", "set_status")}
    assert set_status["actioned"] == ([row.id] if outcome == "actioned" else [])
    assert set_status["expired"] == ([row.id] if outcome == "expired" else [])
    assert set_status.get("dormant") == ([row.id] if outcome == "dormant" else None)
    assert world.calls("priorities", "delete")[0].args == (USER, [row.id] if outcome == "removed" else [])
    assert result.removed == int(outcome == "removed")
    assert result.dormant == int(outcome == "dormant")


def test_rows_that_are_not_live_are_left_alone(world: World) -> None:
    world.existing = [
        prow("connection_request", uid(1), status=s) for s in ("dormant", "expired", "actioned", "removed")
    ]
    run(world)
    assert world.calls("priority_sources", "statuses") == []
    assert [c.args[1] for c in world.calls("priorities", "set_status")] == [[], []]


def test_actioned_and_expired_rows_are_moved_in_one_call_each(world: World) -> None:
    rows = [prow("intro_opportunity", uid(n)) for n in range(1, 5)]
    world.existing = rows
    world.source("intro_opportunity", uid(1), "accepted")
    world.source("intro_opportunity", uid(2), "declined")
    world.source("intro_opportunity", uid(3), "completed")
    world.source("intro_opportunity", uid(4), "rejected")
    run(world)
    assert [c.args for c in world.calls("priorities", "set_status")] == [
        (USER, [rows[0].id, rows[2].id], "actioned"),
        (USER, [rows[1].id, rows[3].id], "expired"),
    ]


# --- scores kept, redone, and the offline brain ----------------------------------------------------


def fingerprint_of(q: OpenCommunityRequest) -> str:
    text = f"{q.question} (urgency: {q.urgency})"
    return Candidate(
        ItemType.COMMUNITY_REQUEST,
        q.id,
        q.created_at,
        text=text,
        category=q.category,
        expertise=q.expertise_needed,
    ).fingerprint


@pytest.mark.parametrize(
    ("source", "value", "same", "age", "with_llm", "kept"),
    [
        ("llm", 66.0, True, LLM_SCORE_MAX_AGE - timedelta(seconds=1), True, True),
        ("llm", 66.0, True, LLM_SCORE_MAX_AGE, True, False),
        ("llm", 66.0, True, None, True, False),
        ("llm", 66.0, False, DAY, True, False),
        ("llm", None, True, DAY, True, False),
        ("llm", 66.0, True, DAY, False, True),
        ("fallback", 66.0, True, DAY, False, True),
        ("fallback", 66.0, True, DAY, True, False),
        ("fallback", 66.0, False, DAY, False, False),
        ("rules", 66.0, True, DAY, False, False),
        ("fixed", 66.0, True, DAY, False, False),
    ],
)
def test_a_score_is_kept_while_its_item_is_unchanged(  # noqa: PLR0917
    world: World,
    source: str,
    value: float | None,
    same: bool,
    age: timedelta | None,
    with_llm: bool,
    kept: bool,
) -> None:
    q = question(1)
    world.priority_sources.answer("community_requests_for_expert", [q])
    world.existing = [
        prow(
            "community_request",
            uid(1),
            value_score=value,
            score_source=source,
            score_fingerprint=fingerprint_of(q) if same else "changed",
            score_reason="earlier",
            scored_at=None if age is None else NOW - age,
        )
    ]
    llm = scoring(12) if with_llm else None
    result = run(world, llm=llm)
    [r] = world.written()
    if kept:
        assert (r.value_score, r.score_source, r.score_reason) == (66.0, source, "earlier")
        assert llm is None or llm.requests == []
        assert (result.llm_calls, result.fallback_items) == (0, 0)
    elif with_llm:
        assert (r.value_score, r.score_source, r.score_reason) == (12.0, "llm", "because 1")
        assert (result.llm_calls, result.llm_items, result.fallback_items) == (1, 1, 0)
    else:
        assert r.score_source == "fallback" and r.score_reason is not None
        assert r.score_reason.startswith("fallback: base 60")
        assert result.fallback_items == 1


def test_a_kept_score_with_no_reason_and_no_value(world: World) -> None:
    q = question(1)
    world.priority_sources.answer("community_requests_for_expert", [q])
    world.existing = [
        prow(
            "community_request",
            uid(1),
            value_score=0.0,
            score_source="llm",
            score_fingerprint=fingerprint_of(q),
            score_reason=None,
            scored_at=NOW - DAY,
        )
    ]
    run(world)
    [r] = world.written()
    assert (r.value_score, r.score_source, r.score_reason) == (0.0, "llm", None)


def test_an_item_judged_stale_is_not_scored_again_until_it_changes(world: World) -> None:
    q1, q2 = question(1), question(2)
    world.priority_sources.answer("community_requests_for_expert", [q1, q2])
    world.existing = [
        prow("community_request", uid(1), status="expired", score_fingerprint=fingerprint_of(q1)),
        prow("community_request", uid(2), status="expired", score_fingerprint="changed"),
    ]
    llm = scoring(55)
    run(world, llm=llm)
    assert [r.item_id for r in world.written()] == [uid(2)]
    _, items = request_json(llm)
    assert len(items) == 1


def test_items_the_llm_calls_stale_are_kept_expired_below_the_top(world: World) -> None:
    world.priority_sources.answer("community_requests_for_expert", [question(1), question(2), question(3)])
    llm = scoring((90, True), (50, False), (40, True))
    result = run(world, llm=llm)
    assert [r.item_id for r in world.written()] == [uid(2)]
    stale = world.stale_written()
    assert [(r.item_id, r.priority_rank, r.status, r.value_score) for r in stale] == [
        (uid(1), TOP_PRIORITIES + 1, "expired", 90.0),
        (uid(3), TOP_PRIORITIES + 2, "expired", 40.0),
    ]
    assert {(r.scored_at, r.score_source) for r in stale} == {(NOW, "llm")}
    assert (result.llm_items, result.urgent, result.written) == (3, 0, 1)
    assert world.log.committed_events[0].event_type == PROCESSING_COMPLETED


def test_items_the_llm_left_out_go_to_the_offline_brain(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.priority_sources.answer("community_requests_for_expert", [question(1), question(2)])
    llm = ScriptedLlm()
    llm.decision("score_items", scores=[{"key": "i2", "score": 33, "reason": "meh"}])
    result = run(world, llm=llm)
    rows = world.by_id()
    assert (rows[uid(2)].value_score, rows[uid(2)].score_source) == (33.0, "llm")
    assert rows[uid(1)].score_source == "fallback"
    assert (result.llm_calls, result.llm_items, result.fallback_items) == (1, 1, 1)
    [line] = logged(caplog, "priorities scored by the offline brain")
    assert line.levelno == logging.WARNING
    assert fields(line, "user_id", "items", "llm_configured") == {
        "user_id": str(USER),
        "items": 1,
        "llm_configured": True,
    }


def test_with_no_llm_the_offline_brain_scores_everything_and_says_so(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world.priority_sources.answer("community_requests_for_expert", [question(1)])
    world.priority_sources.answer("research_finished_for_member", [research(2)])
    result = run(world)
    rows = world.by_id()
    assert {r.score_source for r in rows.values()} == {"fallback"}
    # 60 base, recency 15 * (1 - 2/14), expertise "pricing" matched: 10, goal keywords none
    assert rows[uid(1)].value_score == 82.86
    assert rows[uid(1)].score_reason == (
        "fallback: base 60, recency 13, expertise 10, credits 0, goal keywords 0"
    )
    assert (result.llm_calls, result.fallback_items) == (0, 2)
    [line] = logged(caplog, "priorities scored by the offline brain")
    assert fields(line, "user_id", "items", "llm_configured") == {
        "user_id": str(USER),
        "items": 2,
        "llm_configured": False,
    }


def test_an_llm_that_fails_leaves_the_batch_to_the_offline_brain(world: World) -> None:
    world.priority_sources.answer("community_requests_for_expert", [question(1)])
    llm = ScriptedLlm(LlmUnavailable("down"))
    result = run(world, llm=llm)
    assert (result.llm_calls, result.llm_items, result.fallback_items) == (1, 0, 1)


def test_rules_items_never_call_the_llm(world: World) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 70)])
    llm = ScriptedLlm()
    run(world, llm=llm)
    assert llm.requests == []


# --- the top 10 and the rows that fell out -----------------------------------------------------------


def test_the_top_ten_are_written_and_the_live_rows_that_fell_out_are_deleted(world: World) -> None:
    opps = [opp(n, 50 + n) for n in range(1, 13)]  # scores 51..62
    world.priority_sources.answer("intro_opportunities_for_connector", opps)
    fell = prow("intro_opportunity", uid(1), status="presented")
    fell_too = prow("intro_opportunity", uid(2), status="active")
    stays = prow("intro_opportunity", uid(12), status="active")
    asleep_low = prow("intro_opportunity", uid(3), status="actioned")
    world.existing = [fell, fell_too, stays, asleep_low]
    result = run(world)
    rows = world.written()
    assert len(rows) == TOP_PRIORITIES and result.written == TOP_PRIORITIES
    assert [r.item_id for r in rows] == [uid(n) for n in range(12, 2, -1)]
    assert [r.priority_rank for r in rows] == list(range(1, 11))
    assert world.calls("priorities", "delete")[0].args == (USER, [fell.id, fell_too.id])
    assert result.removed == 2
    assert result.top == [("intro_opportunity", str(uid(n)), float(50 + n)) for n in range(12, 2, -1)]


def test_removed_rows_and_fallen_out_rows_are_deleted_together(world: World) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(n, 50 + n) for n in range(1, 12)])
    fell = prow("intro_opportunity", uid(1))
    gone = prow("intro_opportunity", uid(40))
    world.existing = [fell, gone]
    result = run(world)
    assert world.calls("priorities", "delete")[0].args == (USER, [gone.id, fell.id])
    assert result.removed == 2


# --- priority.update ---------------------------------------------------------------------------------


def updates(world: World) -> list[Event]:
    return [e for e in world.log.committed_events if e.event_type == PRIORITY_UPDATE]


def test_an_item_newly_above_80_announces_the_urgent_list(world: World) -> None:
    world.priority_sources.answer(
        "intro_opportunities_for_connector", [opp(1, 90), opp(2, 85), opp(3, 80), opp(4, 70)]
    )
    world.existing = [prow("intro_opportunity", uid(2), value_score=85.0)]
    result = run(world)
    assert result.urgent == 2
    [update] = updates(world)
    assert update == Event(
        event_type=PRIORITY_UPDATE,
        aggregate_type="user",
        aggregate_id=USER,
        payload={
            "userId": str(USER),
            "pocAgentType": "concierge",
            "priorities": [
                {
                    "itemType": "intro_opportunity",
                    "itemId": str(uid(1)),
                    "valueScore": 90.0,
                    "rank": 1,
                    "summary": "Intro Pat Lee at Globex",
                },
                {
                    "itemType": "intro_opportunity",
                    "itemId": str(uid(2)),
                    "valueScore": 85.0,
                    "rank": 2,
                    "summary": "Intro Pat Lee at Globex",
                },
            ],
            "maxScore": 90.0,
            "itemCount": 2,
            "newItemIds": [str(uid(1))],
        },
        created_by="account_manager",
    )
    assert [e.event_type for e in world.log.committed_events] == [PRIORITY_UPDATE, PROCESSING_COMPLETED]


@pytest.mark.parametrize(
    ("prior", "announced"),
    [
        (None, True),
        (prow("intro_opportunity", uid(1), value_score=float(URGENT_SCORE)), True),
        (prow("intro_opportunity", uid(1), value_score=URGENT_SCORE + 0.01), False),
        (prow("intro_opportunity", uid(1), value_score=95.0, status="presented"), False),
        (prow("intro_opportunity", uid(1), value_score=95.0, status="clarifying"), False),
        (prow("intro_opportunity", uid(1), value_score=95.0, status="actioned"), True),
        (prow("intro_opportunity", uid(1), value_score=None), True),
    ],
)
def test_an_item_already_urgent_is_not_announced_again(
    world: World, prior: MemberPriority | None, announced: bool
) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 90)])
    world.existing = [prior] if prior else []
    result = run(world)
    assert len(updates(world)) == int(announced) and result.urgent == 1


def test_a_score_of_exactly_80_is_not_urgent(world: World) -> None:
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 80)])
    result = run(world)
    assert updates(world) == [] and result.urgent == 0


# --- tasks: pinned answers and impact notes ----------------------------------------------------------


def delivery(kind: str, type_: str, data: dict[str, Any], user_id: UUID | None = None) -> Delivery:
    return Delivery(
        kind=cast(Any, kind),
        id=uuid4(),
        type=type_,
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=user_id,
    )


def deps(llm: ScriptedLlm | None = None) -> Deps:
    return Deps(
        uow_factory=cast(Any, None),
        llm_factory=lambda: llm,
        clock=lambda: NOW,
        sms_factory=cast(Any, None),
        publisher_factory=cast(Any, None),
        freshness=cast(Any, None),
    )


def task(
    world: World,
    type_: str,
    data: dict[str, Any],
    user_id: UUID | None = USER,
    llm: ScriptedLlm | None = None,
) -> dict[str, Any] | None:
    with world.uow() as uow:
        out = handle_task(delivery("task", type_, data, user_id), uow.as_postgres(), deps(llm))
        uow.commit()
    return out


def event(
    world: World, type_: str, data: dict[str, Any], user_id: UUID | None = None
) -> dict[str, Any] | None:
    with world.uow() as uow:
        out = handle_event(delivery("event", type_, data, user_id), uow.as_postgres(), deps())
        uow.commit()
    return out


def test_a_review_task_runs_for_its_member_with_its_trigger(world: World) -> None:
    out = task(world, "account_manager_review", {"context_json": {"trigger": "initial_setup"}})
    assert out == RunResult(USER, "ranked").as_dict()
    assert world.calls("priorities", "advance_watermark")[0].kwargs["trigger"] == "initial_setup"


@pytest.mark.parametrize("context", [None, {}, "not an object", {"trigger": ""}])
def test_a_task_without_a_trigger_runs_as_its_type(world: World, context: object) -> None:
    task(world, "account_manager_review", {"context_json": context})
    assert world.calls("priorities", "advance_watermark")[0].kwargs["trigger"] == "account_manager_review"


def test_the_tasks_member_comes_from_the_body_when_the_attribute_is_missing(world: World) -> None:
    other = uid(77)
    task(world, "account_manager_review", {"user_id": str(other)}, user_id=None)
    assert world.calls("users", "try_lock")[0].args == (other, UserLock.ACCOUNT_MANAGER)
    task(world, "account_manager_review", {"user_id": str(other)}, user_id=USER)
    assert world.calls("users", "try_lock")[1].args[0] == USER


@pytest.mark.parametrize("body", [{}, {"user_id": ""}, {"user_id": "nope"}, {"user_id": None}])
def test_a_task_without_a_member_is_refused(world: World, body: dict[str, Any]) -> None:
    with pytest.raises(PermanentError) as info:
        task(world, "account_manager_review", body, user_id=None)
    assert str(info.value) == "account_manager_review task without a user"
    assert world.log.calls == []


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"context_id": str(uid(1))}, (uid(1),)),
        ({"context_id": str(uid(1)), "context_json": {"requestId": str(uid(2))}}, (uid(1),)),
        ({"context_json": {"requestId": str(uid(2))}}, (uid(2),)),
        ({"context_json": {"request_id": str(uid(3))}}, (uid(3),)),
        ({"context_id": "bad", "context_json": {"request_id": str(uid(3))}}, (uid(3),)),
        ({}, ()),
    ],
)
def test_a_community_request_task_names_its_request(
    world: World, data: dict[str, Any], named: tuple[UUID, ...]
) -> None:
    task(world, "community_request_available", data)
    assert world.calls("priority_sources", "community_requests_for_expert")[0].kwargs["named_ids"] == named


def test_other_tasks_name_no_request(world: World) -> None:
    task(world, "account_manager_review", {"context_id": str(uid(1))})
    assert world.calls("priority_sources", "community_requests_for_expert")[0].kwargs["named_ids"] == ()
    assert world.calls("priority_sources", "community_response") == []


@pytest.mark.parametrize("key", ["message_id", "messageId"])
def test_a_tasks_message_is_read_for_goal_mentions(world: World, key: str) -> None:
    m = uid(30)
    world.inbound = [InboundText(m, "My goal is a CFO hire", NOW - DAY)]
    task(world, "account_manager_review", {"context_json": {"trigger": "explicit_mention", key: str(m)}})
    assert world.calls("messages", "inbound_by_ids")[0].args == (USER, [m])
    assert world.written()[0].item_type == "goal"


def test_an_answer_for_the_requester_is_pinned_first_at_90_and_announced(world: World) -> None:
    world.priority_sources.answer("community_response", response())
    world.priority_sources.answer("intro_opportunities_for_connector", [opp(1, 95)])
    out = task(world, "community_response_available", {"context_json": {"responseId": str(uid(500))}})
    assert world.calls("priority_sources", "community_response")[0].args == (uid(500),)
    pinned = world.calls("priorities", "write")[0]
    assert pinned.args == (
        USER,
        [
            RankedPriority(
                priority_rank=1,
                item_type="community_response",
                item_id=uid(500),
                value_score=float(COMMUNITY_RESPONSE_SCORE),
                status="active",
                content="  Charge per seat first.  ",
                presentation_count=0,
                last_presented_at=None,
                item_summary='Eve answered your question "How do we price?": Charge per seat first.',
                item_primary_name=None,
                item_secondary_name=None,
                item_context="pricing",
                item_metadata={"request_id": str(uid(501)), "category": "pricing"},
                expires_at=None,
                score_source="fixed",
                score_fingerprint=Candidate(
                    ItemType.COMMUNITY_RESPONSE, uid(500), NOW, text="  Charge per seat first.  "
                ).fingerprint,
                score_reason=None,
                scored_at=NOW,
            )
        ],
    )
    assert out is not None and out["status"] == "ranked"
    # the run that follows: the answer (found on re-read) is announced although its row exists
    assert world.calls("priorities", "of_member")[0].args == (USER,)


def test_an_answer_the_member_already_has_as_urgent_is_not_announced_again(world: World) -> None:
    world.priority_sources.answer("community_response", response())
    world.existing = [prow("community_response", uid(500), value_score=90.0, status="presented")]
    world.source("community_response", uid(500), "open")
    task(world, "community_response_available", {"context_json": {"response_id": str(uid(500))}})
    assert updates(world) == []


def test_a_fresh_answer_is_announced_even_when_its_row_was_read_back(world: World) -> None:
    world.priority_sources.answer("community_response", response())
    world.source("community_response", uid(500), "open")
    prior = prow("community_response", uid(500), value_score=90.0, status="expired")
    world.existing = [prior]

    def of_member(user_id: UUID) -> list[MemberPriority]:
        # the pin's read sees the old expired row; the run's read sees the pinned row, live
        reads = len(world.calls("priorities", "of_member"))
        return [prior] if reads == 1 else [replace(prior, status="active")]

    world.priorities.answer("of_member", of_member)
    task(world, "community_response_available", {"context_id": str(uid(500))})
    [update] = updates(world)
    assert update.payload["newItemIds"] == [str(uid(500))]
    assert update.payload["priorities"][0]["rank"] == 1


def test_a_vanished_response_adds_nothing(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    task(world, "notify_expert_of_impact", {"context_json": {"responseId": str(uid(500))}})
    [line] = logged(caplog, "community response vanished; nothing to add")
    assert line.levelno == logging.WARNING and line.__dict__["response_id"] == str(uid(500))
    assert [c.args[1] for c in world.calls("priorities", "write")] == [[], []]


def test_an_impact_note_for_the_expert(world: World) -> None:
    world.priority_sources.answer(
        "community_response", response(impact_description=" They moved to plan X. ")
    )
    world.source("community_response", uid(500), "open")
    note = prow("expert_impact", uid(500), value_score=float(EXPERT_IMPACT_SCORE))
    # the pin's read finds nothing yet; the run's read finds the note just written
    world.priorities.answer(
        "of_member", lambda user_id: [note] if world.calls("priorities", "of_member")[1:] else []
    )
    task(
        world,
        "notify_expert_of_impact",
        {
            "context_json": {
                "response_id": str(uid(500)),
                "creditsAwarded": 40,
                "impactDescription": "Big help",
            }
        },
    )
    [r] = world.calls("priorities", "write")[0].args[1]
    assert r == RankedPriority(
        priority_rank=1,
        item_type="expert_impact",
        item_id=uid(500),
        value_score=float(EXPERT_IMPACT_SCORE),
        status="active",
        content="Big help",
        presentation_count=0,
        last_presented_at=None,
        item_summary=(
            'Your answer to "How do we price?" reached the member who asked '
            "(They moved to plan X). You earned 40 credits."
        ),
        item_primary_name=None,
        item_secondary_name=None,
        item_context="earned 40 credits",
        item_metadata={"request_id": str(uid(501)), "credits_awarded": 40},
        expires_at=None,
        score_source="fixed",
        score_fingerprint=Candidate(ItemType.EXPERT_IMPACT, uid(500), NOW, text="Big help").fingerprint,
        score_reason=None,
        scored_at=NOW,
    )
    [update] = updates(world)
    assert update.payload["newItemIds"] == [str(uid(500))]


def test_an_impact_note_takes_the_credits_and_impact_from_the_response_when_the_task_has_none(
    world: World,
) -> None:
    world.priority_sources.answer("community_response", response(credits_awarded=15))
    task(
        world,
        "notify_expert_of_impact",
        {"context_id": str(uid(500)), "context_json": {"credits_awarded": 0}},
    )
    [r] = world.calls("priorities", "write")[0].args[1]
    assert (r.content, r.item_context, r.item_metadata) == (
        "They changed their pricing page.",
        "earned 15 credits",
        {"request_id": str(uid(501)), "credits_awarded": 15},
    )
    world2 = World()
    world2.priority_sources.answer("community_response", response(credits_awarded=0, impact_description=None))
    task(
        world2,
        "notify_expert_of_impact",
        {"context_id": str(uid(500)), "context_json": {"credits_awarded": 7}},
    )
    [r2] = world2.calls("priorities", "write")[0].args[1]
    assert (r2.content, r2.item_context, r2.item_summary) == (
        None,
        "earned 7 credits",
        'Your answer to "How do we price?" reached the member who asked. You earned 7 credits.',
    )
    world3 = World()
    world3.priority_sources.answer("community_response", response(credits_awarded=0, impact_description=None))
    task(world3, "notify_expert_of_impact", {"context_id": str(uid(500))})
    [r3] = world3.calls("priorities", "write")[0].args[1]
    assert (r3.item_context, r3.item_summary) == (
        None,
        'Your answer to "How do we price?" reached the member who asked.',
    )


def test_the_relayed_answer_and_the_impact_note_are_cut(world: World) -> None:
    long_question = "Which " + "very " * 30 + "long question?"
    world.priority_sources.answer(
        "community_response",
        response(question=long_question, expert_first_name=None, response_text="x" * 500, category=None),
    )
    task(world, "community_response_available", {"context_id": str(uid(500))})
    [r] = world.calls("priorities", "write")[0].args[1]
    cut_question = long_question[: RELAY_QUESTION_MAX_CHARS - 1].rstrip() + "…"
    said = f'An expert answered your question "{cut_question}": '
    assert r.item_summary == (said + "x" * 500)[: RELAY_SUMMARY_MAX_CHARS - 1] + "…"
    assert r.item_context == "your question" and r.item_metadata == {
        "request_id": str(uid(501)),
        "category": None,
    }


def test_an_answer_with_no_text_says_who_answered(world: World) -> None:
    world.priority_sources.answer("community_response", response(response_text="   "))
    task(world, "community_response_available", {"context_id": str(uid(500))})
    [r] = world.calls("priorities", "write")[0].args[1]
    assert r.item_summary == 'Eve answered your question "How do we price?"'
    assert r.content == "   "
    world2 = World()
    world2.priority_sources.answer("community_response", response(response_text=None))
    task(world2, "community_response_available", {"context_id": str(uid(500))})
    [r2] = world2.calls("priorities", "write")[0].args[1]
    assert r2.content is None and r2.item_summary == 'Eve answered your question "How do we price?"'


# --- events: who a run is for ------------------------------------------------------------------------


def locked(world: World) -> list[UUID]:
    return [c.args[0] for c in world.calls("users", "try_lock")]


def test_an_event_runs_for_every_member_it_names_once(world: World) -> None:
    a, b, c, d = uid(1), uid(2), uid(3), uid(4)
    data = {
        "aggregate_type": "user",
        "aggregate_id": str(d),
        "payload": {
            "userId": str(a),
            "user_id": str(a),
            "connectorUserId": str(b),
            "connector_user_id": "",
            "introduceeUserId": "bad",
            "introducee_user_id": str(c),
        },
    }
    out = event(world, "user.updated", data, user_id=USER)
    assert locked(world) == [a, b, c, d, USER]
    assert out == {"runs": [RunResult(u, "ranked").as_dict() for u in (a, b, c, d, USER)]}
    assert world.calls("priorities", "advance_watermark")[0].kwargs["trigger"] == "user.updated"


@pytest.mark.parametrize(
    "name",
    [
        "userId",
        "user_id",
        "connectorUserId",
        "connector_user_id",
        "introduceeUserId",
        "introducee_user_id",
        "offeringUserId",
        "offering_user_id",
        "expertUserId",
        "expert_user_id",
    ],
)
def test_each_member_field_names_a_member(world: World, name: str) -> None:
    event(world, "user.updated", {"payload": {name: str(uid(9))}})
    assert locked(world) == [uid(9)]


def test_an_aggregate_that_is_not_a_user_names_no_member(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    out = event(
        world,
        "community.request_created",
        {"aggregate_type": "community_request", "aggregate_id": str(uid(1))},
    )
    assert out == {"runs": []} and world.log.calls == []
    [line] = logged(caplog, "account manager event names no member")
    assert line.levelno == logging.WARNING and line.__dict__["event_type"] == "community.request_created"


def test_an_event_whose_payload_is_not_an_object_is_refused(world: World) -> None:
    with pytest.raises(PermanentError) as info:
        event(world, "user.updated", {"payload": ["x"]})
    assert str(info.value) == "user.updated payload is not an object"


def test_an_event_with_no_payload_uses_its_user(world: World) -> None:
    event(world, "user.verified", {"payload": None}, user_id=USER)
    assert locked(world) == [USER]


@pytest.mark.parametrize("prefix", ["intro.", "connection."])
def test_an_intro_flow_event_runs_for_everyone_its_row_concerns(world: World, prefix: str) -> None:
    world.priority_sources.answer("members_of_intro_items", [uid(1), USER, uid(2)])
    payload = {
        "userId": str(USER),
        "introId": str(uid(10)),
        "intro_id": str(uid(11)),
        "introOfferId": str(uid(12)),
        "intro_offer_id": str(uid(13)),
        "offerId": str(uid(14)),
        "offer_id": str(uid(15)),
        "connectionRequestId": str(uid(16)),
        "connection_request_id": str(uid(17)),
        "opportunityId": str(uid(18)),
        "intro_opportunity_id": str(uid(10)),
    }
    data = {"aggregate_type": "intro_offer", "aggregate_id": str(uid(19)), "payload": payload}
    event(world, prefix + "offer_accepted", data)
    [asked] = world.calls("priority_sources", "members_of_intro_items")
    assert asked.args == ([uid(n) for n in range(10, 20)],)
    assert locked(world) == [USER, uid(1), uid(2)]


@pytest.mark.parametrize("aggregate", [None, "user"])
def test_a_user_aggregate_is_not_an_intro_item(world: World, aggregate: str | None) -> None:
    data = {"aggregate_type": aggregate, "aggregate_id": str(uid(19)), "payload": {"introId": str(uid(10))}}
    event(world, "intro.offer_accepted", data)
    assert world.calls("priority_sources", "members_of_intro_items")[0].args == ([uid(10)],)


def test_other_events_do_not_look_up_intro_items(world: World) -> None:
    event(world, "user.updated", {"payload": {"introId": str(uid(10)), "userId": str(USER)}})
    assert world.calls("priority_sources", "members_of_intro_items") == []
    assert world.calls("priority_sources", "community_request") == []


# --- community.response_received -------------------------------------------------------------------


def answered(**fields: Any) -> RequestOfResponse:
    values: dict[str, Any] = {
        "id": uid(501),
        "requesting_user_id": uid(600),
        "requesting_agent_type": "concierge",
        "question": "How do we price?",
        "category": "pricing",
        "status": "responses_received",
    }
    values.update(fields)
    return RequestOfResponse(**values)


def test_an_answer_actions_the_experts_ask_and_pins_it_for_the_requester(world: World) -> None:
    expert, requester = uid(502), uid(600)
    world.priority_sources.answer("community_request", answered())
    world.priority_sources.answer("community_response", response())
    payload = {"requestId": str(uid(501)), "responseId": str(uid(500)), "expertUserId": str(expert)}
    out = event(world, "community.response_received", {"payload": payload})
    [actioned] = world.calls("priorities", "set_item_status")
    assert actioned.args == (expert, "community_request", uid(501), "actioned")
    assert world.calls("priority_sources", "community_request")[0].args == (uid(501),)
    pin = world.calls("priorities", "write")[0]
    assert pin.args[0] == requester and pin.args[1][0].item_type == "community_response"
    assert pin.args[1][0].priority_rank == 1
    assert (pin.args[1][0].scored_at, pin.args[1][0].item_id) == (NOW, uid(500))
    assert locked(world) == [expert, requester]
    assert out is not None and len(out["runs"]) == 2


def test_snake_case_fields_work_too(world: World) -> None:
    world.priority_sources.answer("community_request", answered())
    world.priority_sources.answer("community_response", response())
    payload = {"request_id": str(uid(501)), "response_id": str(uid(500)), "expert_user_id": str(uid(502))}
    event(world, "community.response_received", {"payload": payload})
    assert world.calls("priorities", "set_item_status")[0].args[0] == uid(502)
    assert world.calls("priority_sources", "community_response")[0].args == (uid(500),)
    assert locked(world) == [uid(502), uid(600)]


@pytest.mark.parametrize(
    ("request_row", "payload"),
    [
        (None, {"requestId": str(uid(501)), "responseId": str(uid(500))}),
        (answered(requesting_user_id=None), {"requestId": str(uid(501)), "responseId": str(uid(500))}),
        (answered(), {"requestId": str(uid(501))}),
        (
            answered(requesting_agent_type="solution_saga"),
            {"requestId": str(uid(501)), "responseId": str(uid(500))},
        ),
    ],
)
def test_no_requester_to_pin_for(
    world: World, request_row: RequestOfResponse | None, payload: dict[str, str]
) -> None:
    world.priority_sources.answer("community_request", request_row)
    world.priority_sources.answer("community_response", response())
    event(world, "community.response_received", {"payload": {**payload, "expertUserId": str(uid(502))}})
    assert world.calls("priority_sources", "community_response") == []
    assert locked(world) == [uid(502)]


def test_without_a_request_nothing_is_looked_up(world: World) -> None:
    event(
        world,
        "community.response_received",
        {"payload": {"responseId": str(uid(500)), "expertUserId": str(uid(502))}},
    )
    assert world.calls("priority_sources", "community_request") == []
    assert world.calls("priorities", "set_item_status") == []


def test_without_an_expert_the_ask_is_not_actioned(world: World) -> None:
    world.priority_sources.answer("community_request", answered())
    world.priority_sources.answer("community_response", response())
    event(
        world,
        "community.response_received",
        {"payload": {"requestId": str(uid(501)), "responseId": str(uid(500))}},
    )
    assert world.calls("priorities", "set_item_status") == []
    assert locked(world) == [uid(600)]


# --- reviews -----------------------------------------------------------------------------------------


def test_a_review_request_with_its_message() -> None:
    world = World()
    with world.uow() as uow:
        assert (
            request_review(uow.as_postgres(), USER, trigger="explicit_mention", now=NOW, message_id=uid(3))
            is True
        )
    assert world.tasks_added() == [review_task(USER, "explicit_mention", NOW, message_id=str(uid(3)))]
    world.task_answers = [None]
    with world.uow() as uow:
        assert request_review(uow.as_postgres(), USER, trigger="initial_setup", now=NOW) is False
    assert world.tasks_added()[1] == review_task(USER, "initial_setup", NOW)


def test_the_six_hourly_review_is_scheduled_in_one_commit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = UowLog()
    priorities = ScriptedRepo("priorities", log, schedule_reviews=[uid(1), uid(2)])
    assert schedule_account_manager_reviews(uow_factory=uow_factory(log, priorities=priorities), now=NOW) == 2
    [call] = log.of("priorities", "schedule_reviews")
    assert call.kwargs == {
        "now": NOW,
        "created_by": "account_manager",
        "task_type": "account_manager_review",
        "agent_type": "account_manager",
        "max_retries": TASK_MAX_RETRIES,
    }
    assert (log.entered, log.commits) == (1, 1)
    [line] = logged(caplog, "account manager review scheduled")
    assert line.levelno == logging.INFO and line.__dict__["members"] == 2
    with RecordingUow(log, priorities=priorities) as uow:
        assert schedule_reviews(uow.as_postgres(), NOW) == [uid(1), uid(2)]


def test_the_handlers_score_with_the_processs_llm(world: World) -> None:
    world.priority_sources.answer("community_requests_for_expert", [question(1)])
    task(world, "account_manager_review", {}, llm=scoring(44))
    assert world.written()[0].score_source == "llm"
    other = World()
    other.priority_sources.answer("community_requests_for_expert", [question(1)])
    llm = scoring(45)
    with other.uow() as uow:
        handle_event(delivery("event", "user.updated", {}, USER), uow.as_postgres(), deps(llm))
    assert (other.written()[0].score_source, other.written()[0].value_score) == ("llm", 45.0)


def test_an_item_the_llm_scores_zero_is_ranked_at_zero(world: World) -> None:
    world.priority_sources.answer("community_requests_for_expert", [question(1)])
    result = run(world, llm=scoring(0))
    assert result.top == [("community_request", str(uid(1)), 0.0)]
    assert world.written()[0].value_score == 0.0
