"""Re-engagement's use cases (``shared/service_layer/reengagement.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "mutmut: reengagement.py"): each
outcome of a ``re_engagement_check`` (skipped, paused, throttled, deferred, queued) with exactly
what it writes (the lock and its scope, the pause, the next check's task field by field, the
action log rows, the queued parts, each thread's presentation), the throttles at the service's
edge (7 days, 3 unanswered in 90 days, 5 in 90 days, the backoff, the override above 90 and a
priority already shown this week), what the decision is shown (the LLM's member block), the
``priority.update`` handler's parsing and its override, the operator's resume and the log lines
operators read. The repositories are ``ScriptedRepo``s on the shared ``RecordingUow``
(tests/fakes/uow.py); the decision goes through ``ScriptedLlm`` (``deps.llm``). The SQL behind
them is tested on Postgres (tests/integration/test_reengagement*.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared import registry
from shared.adapters.repositories import ActionRecord, Priority, UserLock
from shared.adapters.repositories.community_requests import CommunityRequest
from shared.adapters.repositories.conversations import Conversation
from shared.adapters.repositories.messages import HistoryItem
from shared.adapters.repositories.priorities import Presented
from shared.adapters.repositories.queue import NewQueuedPart
from shared.adapters.repositories.re_engagement import PausedMember, ReEngagementState
from shared.adapters.repositories.tasks import NewTask, Task
from shared.adapters.repositories.users import MemberGoal, SendProfile, User
from shared.agents.concierge.reengagement import TOOL, ReEngagementInput, member_block
from shared.agents.context import HistoryMessage
from shared.domain.constants import (
    CONCIERGE_PRIORITIES_IN_CONTEXT,
    PRIORITY_DORMANT_AFTER_PRESENTATIONS,
    RE_ENGAGEMENT_BACKOFF_DAYS,
    RE_ENGAGEMENT_FOLLOW_UP,
    RE_ENGAGEMENT_HISTORY,
    RE_ENGAGEMENT_LOOKBACK,
    RE_ENGAGEMENT_MAX_PER_WINDOW,
    RE_ENGAGEMENT_MIN_GAP,
    RE_ENGAGEMENT_OVERRIDE_SCORE,
    RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED,
    RE_ENGAGEMENT_PAUSE_WINDOW,
    RE_ENGAGEMENT_PRIORITY_UPDATE_DELAY,
    TASK_MAX_RETRIES,
)
from shared.domain.reengagement import SentReEngagement
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.reengagement import (
    UnknownMember,
    handle_priority_update,
    handle_reengagement_task,
    paused_members,
    resume_reengagement,
    run_check,
)
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm
from tests.fakes.rows import user_row
from tests.fakes.uow import Call, RecordingUow, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.reengagement"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
USER = UUID("11111111-1111-4111-8111-111111111111")
CONV = UUID("22222222-2222-4222-8222-222222222222")
TASK_ID = UUID("33333333-3333-4333-8333-333333333333")
NEXT_ID = UUID("44444444-4444-4444-8444-444444444444")
Q1 = UUID("55555555-5555-4555-8555-555555555551")
Q2 = UUID("55555555-5555-4555-8555-555555555552")
Q3 = UUID("55555555-5555-4555-8555-555555555553")
ITEM_A = UUID("66666666-6666-4666-8666-66666666666a")
ITEM_B = UUID("66666666-6666-4666-8666-66666666666b")
ITEM_C = UUID("66666666-6666-4666-8666-66666666666c")
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def member(**fields: Any) -> User:
    return replace(
        user_row(
            USER,
            NOW - 400 * DAY,
            first_name="Ana",
            last_name="Ruiz",
            company="Lumen Labs",
            title="CFO",
            verified=True,
            timezone="America/New_York",
            approval_status="approved",
        ),
        **fields,
    )


def priority(
    item_id: UUID,
    score: float | None,
    *,
    shown: datetime | None = None,
    item_type: str = "intro_opportunity",
    summary: str | None = "Intro Pat Lee at Globex",
    primary: str | None = "Pat Lee",
    secondary: str | None = None,
    context: Any = None,
    rank: int = 1,
) -> Priority:
    return Priority(
        id=uuid4(),
        priority_rank=rank,
        item_type=item_type,
        item_id=item_id,
        value_score=score,
        status="active",
        presentation_count=0 if shown is None else 1,
        last_presented_at=shown,
        item_summary=summary,
        item_primary_name=primary,
        item_secondary_name=secondary,
        item_context=context,
    )


def conversation() -> Conversation:
    return Conversation(
        id=CONV,
        user_id=USER,
        status="active",
        conversation_summary=None,
        last_summary_message_id=None,
        messages_since_summary=0,
        created_at=NOW - 400 * DAY,
        last_message_at=None,
    )


def send_profile() -> SendProfile:
    return SendProfile(
        id=USER,
        phone_number="+14155550100",
        timezone="America/New_York",
        quiet_hours_start=None,
        quiet_hours_end=None,
        opted_out=False,
        verified=True,
        poc_agent_type="concierge",
        response_pattern={},
        last_inbound_at=NOW - timedelta(minutes=1),  # active: queued for now
    )


def returning(*values: Any) -> Callable[..., Any]:
    """A scripted answer that returns ``values`` one per call."""
    left: Iterator[Any] = iter(values)
    return lambda *args, **kwargs: next(left)


class World:
    """One member's repositories, scripted for a check; every call lands in ``log``."""

    def __init__(
        self,
        *,
        user: User | None = None,
        created_at: datetime | None = NOW - 2 * DAY,
        last_text: datetime | None = NOW - 30 * DAY,
        active: Conversation | None = None,
        no_conversation: bool = False,
        state: ReEngagementState | None = None,
        sends: list[SentReEngagement] | None = None,
        priorities: list[Priority] | None = None,
        goal: MemberGoal | None = None,
        own: list[CommunityRequest] | None = None,
        history: list[HistoryItem] | None = None,
        task_ids: tuple[UUID | None, ...] = (NEXT_ID,),
        queue_ids: tuple[UUID, ...] = (Q1, Q2, Q3),
        presented: dict[UUID, Presented | None] | None = None,
    ) -> None:
        self.log = UowLog()
        shown = presented or {}
        self.users = ScriptedRepo(
            "users",
            self.log,
            lock=None,
            get=user if user is not None else member(),
            goal=goal,
            send_profile=send_profile(),
        )
        self.tasks = ScriptedRepo(
            "tasks",
            self.log,
            created_at=created_at,
            add=returning(*task_ids),
            cancel_reengagement_for_items=[uuid4(), uuid4()],
        )
        self.messages = ScriptedRepo(
            "messages", self.log, last_user_text_at=last_text, recent_history=history or []
        )
        self.conversations = ScriptedRepo(
            "conversations",
            self.log,
            active_for_user=None if no_conversation else (active or conversation()),
        )
        self.re_engagement = ScriptedRepo(
            "re_engagement", self.log, state=state, sends=sends or [], pause=NOW
        )
        self.priorities = ScriptedRepo(
            "priorities",
            self.log,
            open_for_user=priorities or [],
            mark_presented=lambda user_id, item_type, item_id, **kw: shown.get(
                UUID(item_id), Presented(id=uuid4(), status="presented", presentation_count=1)
            ),
        )
        self.community_requests = ScriptedRepo(
            "community_requests", self.log, open_for_user=own or [], questions={ITEM_B: QUESTION_B}
        )
        self.actions = ScriptedRepo("actions", self.log, record=None)
        self.queue = ScriptedRepo("queue", self.log, add=returning(*queue_ids))
        self.uow = RecordingUow(
            self.log,
            users=self.users,
            tasks=self.tasks,
            messages=self.messages,
            conversations=self.conversations,
            re_engagement=self.re_engagement,
            priorities=self.priorities,
            community_requests=self.community_requests,
            actions=self.actions,
            queue=self.queue,
        )

    def check(
        self, *, llm: ScriptedLlm | None = None, context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        deps = make_deps(llm=llm, clock=lambda: NOW)
        ctx = {"reason": "test", "attemptCount": 1} if context is None else context
        return run_check(self.uow.as_postgres(), USER, task_id=TASK_ID, context=ctx, deps=deps)

    def new_tasks(self) -> list[NewTask]:
        return [c.args[0] for c in self.log.of("tasks", "add")]

    def actions_of(self, action_type: str) -> list[ActionRecord]:
        rows = [c.args[0] for c in self.log.of("actions", "record")]
        return [r for r in rows if r.action_type == action_type]

    def parts(self) -> list[NewQueuedPart]:
        return [c.args[0] for c in self.log.of("queue", "add")]


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


@pytest.fixture
def caplog_info(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def next_task(
    *,
    at: datetime,
    context: dict[str, Any],
    dedupe: str = f"after:{TASK_ID}",
) -> NewTask:
    return NewTask(
        task_type="re_engagement_check",
        agent_type=registry.SYSTEM_AGENT_TYPE,
        user_id=USER,
        scheduled_for=at,
        priority="low",
        context_json=context,
        context_id=None,
        context_type=None,
        created_by="concierge_reengagement",
        dedupe_key=f"re_engagement_check:{USER}:{dedupe}",
        max_retries=TASK_MAX_RETRIES,
    )


def sent(days_ago: timedelta, answered: bool = False) -> SentReEngagement:
    return SentReEngagement(at=NOW - days_ago, answered=answered)


def llm_deciding(**arguments: Any) -> ScriptedLlm:
    llm = ScriptedLlm()
    llm.decision(TOOL, **arguments)
    return llm


# --- who is checked ---------------------------------------------------------------------------


def test_an_unknown_member_is_a_permanent_error_after_the_turn_lock() -> None:
    world = World()
    world.users.answer("get", None)
    with pytest.raises(PermanentError) as info:
        world.check()
    assert str(info.value) == f"re_engagement_check for an unknown user {USER}"
    assert world.log.calls == [
        Call("users", "lock", (USER, UserLock.TURN), {}),
        Call("users", "get", (USER,), {}),
    ]


@pytest.mark.parametrize("user", [member(verified=False), member(opted_out=True)])
def test_an_unverified_or_opted_out_member_is_skipped_before_anything_is_read(user: User) -> None:
    world = World(user=user)
    assert world.check() == {"status": "skipped", "reason": "not_a_reachable_member"}
    assert world.log.methods() == ["users.lock", "users.get"]


def test_a_member_who_texted_after_the_task_was_created_is_skipped() -> None:
    created = NOW - 2 * DAY
    world = World(created_at=created, last_text=created + SECOND)
    assert world.check() == {"status": "skipped", "reason": "user has responded"}
    assert world.log.calls[2:] == [
        Call("tasks", "created_at", (TASK_ID,), {}),
        Call("messages", "last_user_text_at", (USER,), {}),
    ]


@pytest.mark.parametrize(
    ("created", "last_text"),
    [(NOW - 2 * DAY, NOW - 2 * DAY), (None, NOW - DAY), (NOW - 2 * DAY, None), (None, None)],
    ids=["text-at-the-creation", "no-creation-time", "never-texted", "neither"],
)
def test_a_text_at_or_before_the_task_or_an_unknown_time_does_not_skip(
    created: datetime | None, last_text: datetime | None
) -> None:
    world = World(created_at=created, last_text=last_text, priorities=[])
    assert world.check()["status"] == "no_message"


def test_a_member_without_an_active_conversation_is_a_permanent_error() -> None:
    world = World(no_conversation=True)
    with pytest.raises(PermanentError) as info:
        world.check()
    assert str(info.value) == f"re_engagement_check: member {USER} has no active conversation"
    assert world.log.of("conversations") == [Call("conversations", "active_for_user", (USER,), {})]


def test_the_throttles_read_the_state_the_lookback_and_the_top_priorities() -> None:
    world = World()
    world.check()
    assert world.log.methods()[:8] == [
        "users.lock",
        "users.get",
        "tasks.created_at",
        "messages.last_user_text_at",
        "conversations.active_for_user",
        "re_engagement.state",
        "re_engagement.sends",
        "priorities.open_for_user",
    ]
    assert world.log.calls[5:8] == [
        Call("re_engagement", "state", (USER,), {}),
        Call("re_engagement", "sends", (USER,), {"since": NOW - RE_ENGAGEMENT_LOOKBACK, "now": NOW}),
        Call("priorities", "open_for_user", (USER,), {"limit": CONCIERGE_PRIORITIES_IN_CONTEXT}),
    ]


# --- the pause ----------------------------------------------------------------------------------


def three_unanswered() -> list[SentReEngagement]:
    return [sent(10 * DAY), sent(40 * DAY), sent(RE_ENGAGEMENT_PAUSE_WINDOW)]


def test_three_unanswered_in_90_days_pause_the_member_with_the_reason_logged(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    assert len(three_unanswered()) == RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED
    world = World(sends=three_unanswered(), priorities=[priority(ITEM_A, 99)])
    assert world.check() == {"status": "paused", "unanswered": 3}
    assert world.log.of("re_engagement", "pause") == [
        Call(
            "re_engagement",
            "pause",
            (USER,),
            {"now": NOW, "unanswered": 3, "reason": "3_unanswered_in_90_days"},
        )
    ]
    assert world.actions_of("re_engagement_paused") == [
        ActionRecord(
            agent_type="concierge",
            action_type="re_engagement_paused",
            user_id=USER,
            context_id=TASK_ID,
            context_type="agent_task",
            input_data={"task_id": str(TASK_ID)},
            output_data={"unanswered": 3, "newly": True},
            created_at=NOW,
        )
    ]
    assert world.log.methods()[-2:] == ["re_engagement.pause", "actions.record"]
    [line] = records(caplog_info, "re-engagement paused until a human resumes it")
    assert line.levelno == logging.INFO
    assert (line.user_id, line.task_id, line.agent, line.unanswered) == (  # type: ignore[attr-defined]
        str(USER),
        str(TASK_ID),
        "concierge",
        3,
    )


def test_the_third_unanswered_one_just_outside_90_days_does_not_pause() -> None:
    sends = [sent(10 * DAY), sent(40 * DAY), sent(RE_ENGAGEMENT_PAUSE_WINDOW + SECOND)]
    world = World(sends=sends)
    assert world.check()["status"] == "throttled"
    assert world.log.of("re_engagement", "pause") == []


def test_a_stored_pause_stays_without_pausing_again() -> None:
    state = ReEngagementState(
        user_id=USER,
        paused_at=NOW - 5 * DAY,
        pause_reason="x",
        unanswered=3,
        resumed_at=None,
        resumed_by=None,
    )
    world = World(state=state, sends=[sent(10 * DAY)], priorities=[priority(ITEM_A, 99)])
    assert world.check() == {"status": "paused", "unanswered": 1}
    assert world.log.of("re_engagement", "pause") == []
    [row] = world.actions_of("re_engagement_paused")
    assert row.output_data == {"unanswered": 1, "newly": False}


def test_a_resume_counts_only_the_unanswered_ones_after_it() -> None:
    state = ReEngagementState(
        user_id=USER,
        paused_at=None,
        pause_reason=None,
        unanswered=0,
        resumed_at=NOW - 20 * DAY,
        resumed_by="ops",
    )
    world = World(state=state, sends=three_unanswered(), priorities=[])
    # Not paused: one unanswered since the resume. The backoff still reads all three in a row.
    result = world.check()
    assert result == {
        "status": "throttled",
        "reason": "backoff",
        "retry_at": (NOW - 10 * DAY + timedelta(days=RE_ENGAGEMENT_BACKOFF_DAYS[2])).isoformat(),
    }


# --- the gap, the cap, the backoff and the override ---------------------------------------------


def test_a_send_within_7_days_throttles_to_the_end_of_the_gap_keeping_the_items(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    last = NOW - 3 * DAY
    items = [{"item_type": "intro_opportunity", "item_id": str(ITEM_A), "value_score": 85}]
    world = World(sends=[SentReEngagement(at=last, answered=True)])
    result = world.check(context={"reason": "new_priority", "attemptCount": 4, "priority_items": items})
    retry_at = last + RE_ENGAGEMENT_MIN_GAP
    assert result == {"status": "throttled", "reason": "7_day_limit", "retry_at": retry_at.isoformat()}
    assert world.new_tasks() == [
        next_task(
            at=retry_at,
            context={"reason": "7_day_limit", "attemptCount": 4, "throttled": True, "priority_items": items},
        )
    ]
    assert world.actions_of("re_engagement_throttled") == [
        ActionRecord(
            agent_type="concierge",
            action_type="re_engagement_throttled",
            user_id=USER,
            context_id=TASK_ID,
            context_type="agent_task",
            input_data={"task_id": str(TASK_ID)},
            output_data={
                "reason": "7_day_limit",
                "gap_days": 7,
                "retry_at": retry_at.isoformat(),
                "last_sent_at": last.isoformat(),
                "next_task_id": str(NEXT_ID),
            },
            created_at=NOW,
        )
    ]
    assert world.log.methods()[8:] == ["tasks.add", "actions.record"]
    [line] = records(caplog_info, "re-engagement throttled")
    assert (line.user_id, line.task_id, line.agent, line.reason, line.retry_at) == (  # type: ignore[attr-defined]
        str(USER),
        str(TASK_ID),
        "concierge",
        "7_day_limit",
        retry_at.isoformat(),
    )


def test_a_throttled_check_without_items_schedules_none_and_logs_a_stacked_next_task_as_none() -> None:
    world = World(sends=[sent(6 * DAY, answered=True)], task_ids=(None,))
    world.check(context={"priority_items": []})
    [task] = world.new_tasks()
    assert task.context_json == {"reason": "7_day_limit", "attemptCount": 1, "throttled": True}
    [row] = world.actions_of("re_engagement_throttled")
    assert row.output_data is not None and row.output_data["next_task_id"] == "None"


def test_exactly_7_days_after_the_last_send_the_check_goes_ahead() -> None:
    world = World(sends=[sent(RE_ENGAGEMENT_MIN_GAP, answered=True)])
    assert world.check()["status"] == "no_message"
    world = World(sends=[sent(RE_ENGAGEMENT_MIN_GAP - SECOND, answered=True)])
    assert world.check()["status"] == "throttled"


def test_five_sends_in_90_days_cap_until_the_oldest_leaves_the_window() -> None:
    days = (10, 25, 40, 55, 70)
    assert len(days) == RE_ENGAGEMENT_MAX_PER_WINDOW
    world = World(sends=[sent(d * DAY, answered=True) for d in days])
    result = world.check()
    retry_at = NOW - 70 * DAY + RE_ENGAGEMENT_PAUSE_WINDOW
    assert result == {"status": "throttled", "reason": "90_day_cap", "retry_at": retry_at.isoformat()}
    [row] = world.actions_of("re_engagement_throttled")
    assert row.output_data is not None
    assert (row.output_data["gap_days"], row.output_data["last_sent_at"]) == (0, (NOW - 10 * DAY).isoformat())
    # Four in the window: no cap.
    world = World(sends=[sent(d * DAY, answered=True) for d in days[:4]])
    assert world.check()["status"] == "no_message"


def test_two_unanswered_in_a_row_back_off_to_14_days() -> None:
    world = World(sends=[sent(10 * DAY), sent(30 * DAY)])
    result = world.check()
    gap = timedelta(days=RE_ENGAGEMENT_BACKOFF_DAYS[1])
    assert result == {
        "status": "throttled",
        "reason": "backoff",
        "retry_at": (NOW - 10 * DAY + gap).isoformat(),
    }
    [row] = world.actions_of("re_engagement_throttled")
    assert row.output_data is not None and row.output_data["gap_days"] == RE_ENGAGEMENT_BACKOFF_DAYS[1]


def test_a_priority_above_90_not_shown_this_week_overrides_the_gap() -> None:
    llm = llm_deciding(should_message=True, threads=["t1"], message_structure="single", reason="news")
    top = priority(ITEM_A, RE_ENGAGEMENT_OVERRIDE_SCORE + 0.5, shown=NOW - RE_ENGAGEMENT_MIN_GAP)
    world = World(sends=[sent(2 * DAY, answered=True)], priorities=[priority(ITEM_B, 40), top])
    result = world.check(llm=llm)
    assert result["status"] == "queued" and result["override"] is True
    [row] = world.actions_of("re_engagement_message_sent")
    assert row.output_data is not None and row.output_data["override"] is True


@pytest.mark.parametrize(
    "top",
    [
        priority(ITEM_A, RE_ENGAGEMENT_OVERRIDE_SCORE),
        priority(ITEM_A, 99, shown=NOW - RE_ENGAGEMENT_MIN_GAP + SECOND),
        priority(ITEM_A, None),
    ],
    ids=["exactly-90", "99-shown-this-week", "no-score"],
)
def test_exactly_90_an_item_shown_this_week_or_no_score_does_not_override(top: Priority) -> None:
    world = World(sends=[sent(2 * DAY, answered=True)], priorities=[top, priority(ITEM_B, 10)])
    assert world.check()["status"] == "throttled"


def test_without_a_gap_the_check_proceeds_without_override() -> None:
    llm = llm_deciding(should_message=True, threads=["t1"], reason="news")
    world = World(sends=[sent(30 * DAY, answered=True)], priorities=[priority(ITEM_A, 99)])
    result = world.check(llm=llm)
    assert result["override"] is False


# --- the decision ----------------------------------------------------------------------------


def test_the_decision_is_shown_the_member_the_threads_and_the_history() -> None:
    history = [
        HistoryItem(id=uuid4(), role="concierge", direction="outbound", content="Any news?", status="sent",
                    created_at=NOW - 40 * DAY),
        HistoryItem(id=uuid4(), role="user", direction="inbound", content="Busy week", status="received",
                    created_at=NOW - 41 * DAY),
    ]  # fmt: skip
    priorities = [
        priority(ITEM_A, 60, shown=NOW - 8 * DAY),
        priority(ITEM_B, 40, item_type="community_request", summary="Pricing advice"),
    ]
    sends = [
        sent(20 * DAY, answered=True),
        sent(30 * DAY, answered=True),
        sent(RE_ENGAGEMENT_PAUSE_WINDOW),
        sent(RE_ENGAGEMENT_PAUSE_WINDOW + SECOND),
    ]
    own = [
        CommunityRequest(id=uuid4(), question="Who knows SOC 2?", request_summary="SOC 2 auditors",
                         category=None, status="open", created_at=NOW - 3 * DAY)
    ]  # fmt: skip
    world = World(
        user=member(poc_agent_type="innovator"),
        last_text=NOW - 41 * DAY - timedelta(hours=5),
        sends=sends,
        priorities=priorities,
        goal=MemberGoal(goal="Raise a seed round", goal_type="fundraising", goal_updated_at=None),
        own=own,
        history=history,
    )
    llm = llm_deciding(should_message=False, extend_days=45, reason="quiet")
    world.check(llm=llm, context={"attemptCount": 3})
    assert world.log.calls[8:11] == [
        Call("users", "goal", (USER,), {}),
        Call("community_requests", "open_for_user", (USER,), {"limit": 1}),
        Call(
            "messages",
            "recent_history",
            (CONV,),
            {"limit": RE_ENGAGEMENT_HISTORY, "roles": [registry.USER_ROLE, *registry.poc_agent_keys()]},
        ),
    ]
    [request] = llm.requests
    assert (request.agent, request.user_id) == ("innovator", USER)
    expected = ReEngagementInput(
        user_id=USER,
        agent="innovator",
        now=NOW,
        priorities=priorities,
        history=[
            HistoryMessage(
                role=h.role, direction=h.direction, content=h.content, created_at=h.created_at, id=h.id
            )
            for h in reversed(history)
        ],
        goal="Raise a seed round",
        days_since_last_message=41,
        unanswered=1,
        attempt=3,
        own_request="SOC 2 auditors",
    )
    assert request.messages == [{"role": "user", "content": member_block(expected)}]
    assert "shown=8 days ago" in member_block(expected)


def test_a_member_who_never_texted_with_no_goal_or_request_is_described_so() -> None:
    world = World(last_text=None, priorities=[priority(ITEM_A, 60)])
    llm = llm_deciding(should_message=False, extend_days=45)
    world.check(llm=llm, context={})
    expected = ReEngagementInput(
        user_id=USER,
        agent="concierge",
        now=NOW,
        priorities=[priority(ITEM_A, 60)],
        days_since_last_message=999,
        attempt=1,
    )
    assert llm.requests[0].messages[0]["content"] == member_block(expected)


@pytest.mark.parametrize(
    ("raw", "attempt"),
    [(3, 3), (1, 1), (0, 1), (-2, 1), (True, 1), ("2", 1), (None, 1), (2.0, 1)],
)
def test_the_attempt_is_a_positive_integer_else_1(raw: Any, attempt: int) -> None:
    world = World(sends=[sent(DAY, answered=True)])
    world.check(context={"attemptCount": raw})
    [task] = world.new_tasks()
    assert task.context_json["attemptCount"] == attempt


def test_no_message_schedules_the_next_check_in_the_decisions_days(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    world = World(priorities=[priority(ITEM_A, 60)])
    llm = llm_deciding(should_message=False, extend_days=45, reason="quiet lately")
    result = world.check(llm=llm, context={"attemptCount": 2, "priority_items": [{"item_id": "x"}]})
    assert result == {"status": "no_message", "extend_days": 45, "path": "llm"}
    assert world.new_tasks() == [
        next_task(at=NOW + timedelta(days=45), context={"reason": "no_message", "attemptCount": 3})
    ]
    assert world.actions_of("re_engagement_deferred") == [
        ActionRecord(
            agent_type="concierge",
            action_type="re_engagement_deferred",
            user_id=USER,
            context_id=TASK_ID,
            context_type="agent_task",
            input_data={"task_id": str(TASK_ID)},
            output_data={
                "extend_days": 45,
                "reason": "quiet lately",
                "path": "llm",
                "next_task_id": str(NEXT_ID),
            },
            created_at=NOW,
        )
    ]
    assert world.log.of("queue") == []
    [line] = records(caplog_info, "re-engagement: no message now")
    assert (line.user_id, line.task_id, line.agent, line.extend_days) == (  # type: ignore[attr-defined]
        str(USER),
        str(TASK_ID),
        "concierge",
        45,
    )


def test_without_an_llm_the_offline_rules_decide() -> None:
    world = World(priorities=[priority(ITEM_A, 20)])
    assert world.check() == {"status": "no_message", "extend_days": 60, "path": "rules"}


# --- a message ----------------------------------------------------------------------------------


QUESTION_B = "How should a seed-stage SaaS company price its first enterprise tier, per seat or by usage?"


def two_threads() -> list[Priority]:
    return [
        priority(ITEM_A, 95, summary="Intro Pat Lee at Globex", primary="Pat Lee", secondary="Globex",
                 context="met at SaaStr"),
        priority(ITEM_B, 80, item_type="community_request", summary="Pricing advice", primary=None,
                 context=7),  # the column is text; anything else is dropped
        priority(ITEM_C, 75, summary="Third"),
    ]  # fmt: skip


def test_a_message_queues_the_threads_logs_the_send_presents_them_and_schedules_the_follow_up(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    world = World(priorities=two_threads())
    llm = llm_deciding(
        should_message=True, threads=["t1", "t2"], message_structure="sequence_2", reason="two"
    )
    result = world.check(llm=llm, context={"attemptCount": 2})
    assert result == {
        "status": "queued",
        "queue_ids": [str(Q1), str(Q2)],
        "threads": 2,
        "override": False,
        "path": "llm",
        "next_task_id": str(NEXT_ID),
    }
    thread_a = {
        "item_type": "intro_opportunity",
        "summary": "Intro Pat Lee at Globex",
        "primary_name": "Pat Lee",
        "secondary_name": "Globex",
        "context": "met at SaaStr",
    }
    # an expert is asked the whole question, not the priority's 60-character summary
    thread_b = {"item_type": "community_request", "question": QUESTION_B, "summary": "Pricing advice"}
    base = {"kind": "re_engagement", "structure": "sequence_2"}
    parts = world.parts()
    assert [p.message_data for p in parts] == [
        {**base, "part": "primary", "threads": [thread_a]},
        {**base, "part": "secondary", "threads": [thread_b]},
    ]
    first = parts[0]
    # a community request asked of the member as an expert: agents.md §1's "high, next available slot"
    assert (first.user_id, first.agent_id, first.final_message, first.priority) == (
        USER,
        "concierge_reengagement",
        None,
        "high",
    )
    assert (first.conversation_context_id, first.requires_fresh_context, first.can_delay) == (
        CONV,
        True,
        False,
    )
    assert (first.scheduled_for, first.sequence_total) == (NOW, 2)
    items = [
        {"item_type": "intro_opportunity", "item_id": str(ITEM_A), "value_score": 95},
        {"item_type": "community_request", "item_id": str(ITEM_B), "value_score": 80},
    ]
    assert world.actions_of("re_engagement_message_sent") == [
        ActionRecord(
            agent_type="concierge",
            action_type="re_engagement_message_sent",
            user_id=USER,
            context_id=Q1,
            context_type="message_queue",
            input_data={"task_id": str(TASK_ID)},
            output_data={
                "queue_ids": [str(Q1), str(Q2)],
                "items": items,
                "structure": "sequence_2",
                "parts": 2,
                "override": False,
                "path": "llm",
                "reason": "two",
            },
            created_at=NOW,
        )
    ]
    assert world.log.of("priorities", "mark_presented") == [
        Call(
            "priorities",
            "mark_presented",
            (USER, "intro_opportunity", str(ITEM_A)),
            {"dormant_after": PRIORITY_DORMANT_AFTER_PRESENTATIONS},
        ),
        Call(
            "priorities",
            "mark_presented",
            (USER, "community_request", str(ITEM_B)),
            {"dormant_after": PRIORITY_DORMANT_AFTER_PRESENTATIONS},
        ),
    ]
    presented = world.actions_of("priority_presented")
    assert [(r.agent_type, r.context_id, r.context_type) for r in presented] == [
        ("concierge", Q1, "message_queue")
    ] * 2
    assert [r.input_data for r in presented] == [
        {"item_type": "intro_opportunity", "item_id": str(ITEM_A), "how": "dedicated"},
        {"item_type": "community_request", "item_id": str(ITEM_B), "how": "dedicated"},
    ]
    assert world.new_tasks() == [
        next_task(
            at=NOW + RE_ENGAGEMENT_FOLLOW_UP,
            context={"reason": "follow_up", "attemptCount": 3, "priority_items": items},
        )
    ]
    assert world.log.methods()[11:] == [
        "community_requests.questions",
        "users.send_profile",
        "queue.add",
        "queue.add",
        "actions.record",
        "priorities.mark_presented",
        "actions.record",
        "priorities.mark_presented",
        "actions.record",
        "tasks.add",
    ]
    [line] = records(caplog_info, "re_engagement_message_sent")
    assert (line.user_id, line.agent, line.threads, line.override, line.path) == (  # type: ignore[attr-defined]
        str(USER),
        "concierge",
        2,
        False,
        "llm",
    )


def test_a_sequence_of_three_opens_with_the_members_own_request() -> None:
    own = [
        CommunityRequest(id=uuid4(), question="Who knows SOC 2 auditors?", request_summary=None,
                         category=None, status="open", created_at=NOW - 3 * DAY)
    ]  # fmt: skip
    world = World(priorities=two_threads(), own=own)
    llm = llm_deciding(should_message=True, threads=["t1", "t2"], message_structure="sequence_3", reason="r")
    result = world.check(llm=llm)
    assert result["queue_ids"] == [str(Q1), str(Q2), str(Q3)]
    data = [p.message_data for p in world.parts()]
    assert data[0] == {
        "kind": "re_engagement",
        "structure": "sequence_3",
        "part": "reassurance",
        "own_request": "Who knows SOC 2 auditors?",
    }
    assert [d["part"] for d in data] == ["reassurance", "update", "opportunity"]
    [row] = world.actions_of("re_engagement_message_sent")
    assert row.output_data is not None
    assert (row.output_data["structure"], row.output_data["parts"]) == ("sequence_3", 3)


def test_a_single_message_carries_every_thread_in_one_row() -> None:
    world = World(priorities=two_threads())
    llm = llm_deciding(should_message=True, threads=["t2", "t1"], message_structure="single", reason="r")
    world.check(llm=llm)
    [part] = world.parts()
    assert part.message_data["structure"] == "single"
    assert [t["summary"] for t in part.message_data["threads"]] == [
        "Pricing advice",
        "Intro Pat Lee at Globex",
    ]
    assert (part.sequence_id, part.sequence_total) == (None, None)


def test_a_thread_made_dormant_or_not_open_is_left_out_of_the_follow_up() -> None:
    dormant = Presented(id=uuid4(), status="dormant", presentation_count=2)
    world = World(priorities=two_threads(), presented={ITEM_A: dormant, ITEM_B: None})
    llm = llm_deciding(should_message=True, threads=["t1", "t2"], message_structure="sequence_2", reason="r")
    world.check(llm=llm)
    assert world.log.of("tasks", "cancel_reengagement_for_items") == [
        Call("tasks", "cancel_reengagement_for_items", (USER, [ITEM_A]), {"now": NOW})
    ]
    [task] = world.new_tasks()
    assert task.context_json == {"reason": "follow_up", "attemptCount": 2}
    [row] = world.actions_of("priority_marked_dormant")
    assert row.context_id == Q1


def test_only_the_live_threads_follow_up() -> None:
    dormant = Presented(id=uuid4(), status="dormant", presentation_count=2)
    world = World(priorities=two_threads(), presented={ITEM_A: dormant})
    llm = llm_deciding(should_message=True, threads=["t1", "t2"], message_structure="sequence_2", reason="r")
    world.check(llm=llm)
    [task] = world.new_tasks()
    assert task.context_json["priority_items"] == [
        {"item_type": "community_request", "item_id": str(ITEM_B), "value_score": 80}
    ]


def test_an_innovator_member_is_re_engaged_by_the_innovator(caplog_info: pytest.LogCaptureFixture) -> None:
    world = World(user=member(poc_agent_type="innovator"), priorities=two_threads())
    llm = llm_deciding(should_message=True, threads=["t1"], message_structure="single", reason="r")
    world.check(llm=llm)
    assert world.parts()[0].agent_id == "innovator_reengagement"
    assert {r.agent_type for r in world.actions_of("re_engagement_message_sent")} == {"innovator"}
    [line] = records(caplog_info, "re_engagement_message_sent")
    assert line.agent == "innovator"  # type: ignore[attr-defined]


def test_an_unknown_point_of_contact_falls_back_to_the_concierge() -> None:
    world = World(user=member(poc_agent_type="bouncer_x"), sends=[sent(DAY, answered=True)])
    world.check()
    [row] = world.actions_of("re_engagement_throttled")
    assert row.agent_type == registry.DEFAULT_MEMBER_AGENT


# --- the task delivery ------------------------------------------------------------------------


def task_delivery(context: Any = None, *, with_context: bool = True) -> Delivery:
    data: dict[str, Any] = {"task_type": "re_engagement_check", "user_id": str(USER)}
    if with_context:
        data["context_json"] = context
    return Delivery(
        kind="task",
        id=TASK_ID,
        type="re_engagement_check",
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=None,
    )


def test_the_task_delivery_runs_the_check_for_its_member_and_task() -> None:
    world = World(sends=[sent(DAY, answered=True)])
    deps = make_deps(clock=lambda: NOW)
    result = handle_reengagement_task(task_delivery({"attemptCount": 2}), world.uow.as_postgres(), deps)
    assert result is not None and result["status"] == "throttled"
    assert world.log.calls[0] == Call("users", "lock", (USER, UserLock.TURN), {})
    assert world.log.of("tasks", "created_at") == [Call("tasks", "created_at", (TASK_ID,), {})]
    [task] = world.new_tasks()
    assert task.context_json["attemptCount"] == 2


@pytest.mark.parametrize("context", [None, {}], ids=["null", "empty"])
def test_a_task_without_context_is_attempt_1(context: Any) -> None:
    world = World(sends=[sent(DAY, answered=True)])
    handle_reengagement_task(task_delivery(context), world.uow.as_postgres(), make_deps(clock=lambda: NOW))
    [task] = world.new_tasks()
    assert task.context_json["attemptCount"] == 1
    world = World(sends=[sent(DAY, answered=True)])
    handle_reengagement_task(
        task_delivery(with_context=False), world.uow.as_postgres(), make_deps(clock=lambda: NOW)
    )
    assert world.new_tasks()[0].context_json["attemptCount"] == 1


def test_a_context_that_is_not_an_object_is_a_permanent_error() -> None:
    world = World()
    with pytest.raises(PermanentError) as info:
        handle_reengagement_task(task_delivery([1, 2]), world.uow.as_postgres(), make_deps(clock=lambda: NOW))
    assert str(info.value) == "re_engagement_check context_json is not an object"
    assert world.log.calls == []


# --- priority.update -------------------------------------------------------------------------


def update_delivery(payload: Any, *, user_id: UUID | None = USER, with_payload: bool = True) -> Delivery:
    data: dict[str, Any] = {"event_type": "priority.update"}
    if with_payload:
        data["payload"] = payload
    return Delivery(
        kind="event",
        id=uuid4(),
        type="priority.update",
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=user_id,
    )


def open_task(status: str) -> Task:
    return Task(
        id=uuid4(),
        task_type="re_engagement_check",
        agent_type="system",
        user_id=USER,
        context_id=None,
        context_type=None,
        context_json={},
        priority="low",
        status=status,
        retry_count=0,
        max_retries=3,
        scheduled_for=NOW + DAY,
        claim_token=None,
        lease_expires_at=None,
        created_at=NOW - DAY,
    )


class UpdateWorld:
    def __init__(self, *, user: User | None = None, open_tasks: list[Task] | None = None,
                 task_id: UUID | None = NEXT_ID) -> None:  # fmt: skip
        self.log = UowLog()
        self.users = ScriptedRepo("users", self.log, get=user if user is not None else member())
        self.tasks = ScriptedRepo("tasks", self.log, open_for_user=open_tasks or [], add=task_id)
        self.uow = RecordingUow(self.log, users=self.users, tasks=self.tasks)

    def handle(self, delivery: Delivery) -> dict[str, Any] | None:
        return handle_priority_update(delivery, self.uow.as_postgres(), make_deps(clock=lambda: NOW))

    def new_tasks(self) -> list[NewTask]:
        return [c.args[0] for c in self.log.of("tasks", "add")]


def test_priority_update_schedules_a_check_a_minute_out_with_the_listed_items(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    world = UpdateWorld()
    payload = {
        "maxScore": 85,
        "priorities": [
            {"itemType": "intro_opportunity", "itemId": str(ITEM_A), "valueScore": 85},
            {"itemType": "community_request", "itemId": str(ITEM_B)},
            {"itemType": "", "itemId": str(ITEM_C)},
            {"itemType": "intro_opportunity", "itemId": "not-a-uuid"},
            {"itemType": "intro_opportunity"},
            "not a mapping",
        ],
    }
    result = world.handle(update_delivery(payload))
    assert result == {"status": "scheduled", "task_id": str(NEXT_ID)}
    assert world.log.calls[:2] == [
        Call("users", "get", (USER,), {}),
        Call("tasks", "open_for_user", (USER, "re_engagement_check"), {}),
    ]
    items = [
        {"item_type": "intro_opportunity", "item_id": str(ITEM_A), "value_score": 85},
        {"item_type": "community_request", "item_id": str(ITEM_B), "value_score": None},
    ]
    assert world.new_tasks() == [
        next_task(
            at=NOW + RE_ENGAGEMENT_PRIORITY_UPDATE_DELAY,
            context={"reason": "new_priority", "attemptCount": 1, "maxScore": 85.0, "priority_items": items},
            dedupe="priority_update",
        )
    ]
    [line] = records(caplog_info, "priority.update: re-engagement check scheduled")
    assert (line.user_id, line.max_score, line.task_id) == (str(USER), 85.0, str(NEXT_ID))  # type: ignore[attr-defined]


def test_a_pending_check_absorbs_an_update_of_90_or_less_and_not_one_above() -> None:
    pending = open_task("pending")
    world = UpdateWorld(open_tasks=[open_task("processing"), pending, open_task("pending")])
    result = world.handle(update_delivery({"maxScore": RE_ENGAGEMENT_OVERRIDE_SCORE}))
    assert result == {"status": "already_scheduled", "task_id": str(pending.id)}
    assert world.new_tasks() == []
    world = UpdateWorld(open_tasks=[pending])
    result = world.handle(update_delivery({"maxScore": RE_ENGAGEMENT_OVERRIDE_SCORE + 0.5}))
    assert result == {"status": "scheduled", "task_id": str(NEXT_ID)}
    [task] = world.new_tasks()
    assert task.context_json == {"reason": "new_priority", "attemptCount": 1, "maxScore": 90.5}


def test_a_processing_check_alone_does_not_absorb_an_update() -> None:
    world = UpdateWorld(open_tasks=[open_task("processing")])
    assert world.handle(update_delivery({"maxScore": 50})) == {"status": "scheduled", "task_id": str(NEXT_ID)}


def test_a_check_already_stacked_under_the_same_key_is_reported_as_already_scheduled() -> None:
    world = UpdateWorld(task_id=None)
    assert world.handle(update_delivery({})) == {"status": "already_scheduled", "task_id": None}


@pytest.mark.parametrize(
    ("raw", "score"),
    [(None, 0.0), ("", 0.0), ("abc", 0.0), ([1], 0.0), ("95.5", 95.5), (0, 0.0)],
)
def test_the_max_score_is_read_as_a_number_else_0(raw: Any, score: float) -> None:
    world = UpdateWorld()
    world.handle(update_delivery({"maxScore": raw}))
    [task] = world.new_tasks()
    assert task.context_json["maxScore"] == score
    assert isinstance(task.context_json["maxScore"], float)


def test_the_member_is_read_from_the_delivery_then_user_id_in_camel_then_snake_case() -> None:
    other = uuid4()
    world = UpdateWorld()
    world.handle(update_delivery({"userId": str(other), "user_id": str(ITEM_C)}, user_id=None))
    assert world.log.calls[0] == Call("users", "get", (other,), {})
    world = UpdateWorld()
    world.handle(update_delivery({"userId": "nope", "user_id": str(ITEM_C)}, user_id=None))
    assert world.log.calls[0] == Call("users", "get", (ITEM_C,), {})
    world = UpdateWorld()
    world.handle(update_delivery({"userId": "", "user_id": str(ITEM_C)}, user_id=None))
    assert world.log.calls[0] == Call("users", "get", (ITEM_C,), {})
    world = UpdateWorld()
    world.handle(update_delivery({"userId": str(other)}, user_id=USER))
    assert world.log.calls[0] == Call("users", "get", (USER,), {})


@pytest.mark.parametrize(
    "delivery",
    [
        update_delivery({}, user_id=None),
        update_delivery(None, user_id=None),
        update_delivery({}, user_id=None, with_payload=False),
        update_delivery({"userId": "nope", "user_id": ""}, user_id=None),
    ],
    ids=["empty", "null-payload", "no-payload", "not-uuids"],
)
def test_an_update_without_a_member_is_a_permanent_error(delivery: Delivery) -> None:
    world = UpdateWorld()
    with pytest.raises(PermanentError) as info:
        world.handle(delivery)
    assert str(info.value) == "priority.update carries no user id"
    assert world.log.calls == []


@pytest.mark.parametrize("user", [member(verified=False), member(opted_out=True)])
def test_an_update_for_an_unreachable_member_is_skipped(user: User) -> None:
    world = UpdateWorld(user=user)
    assert world.handle(update_delivery({"maxScore": 99})) == {
        "status": "skipped",
        "reason": "not_a_reachable_member",
    }
    assert world.log.methods() == ["users.get"]


def test_an_update_for_an_unknown_member_is_skipped() -> None:
    world = UpdateWorld()
    world.users.answer("get", None)
    assert world.handle(update_delivery({})) == {"status": "skipped", "reason": "not_a_reachable_member"}


def test_a_priorities_field_that_is_not_a_list_gives_no_items() -> None:
    world = UpdateWorld()
    world.handle(update_delivery({"priorities": {"itemType": "x", "itemId": str(ITEM_A)}}))
    [task] = world.new_tasks()
    assert "priority_items" not in task.context_json


# --- the operator's resume ------------------------------------------------------------------------


class ResumeWorld:
    def __init__(
        self, *, user: User | None = None, by_phone: UUID | None = USER, resumed: bool = True
    ) -> None:
        self.log = UowLog()
        self.users = ScriptedRepo("users", self.log, get=user, id_by_phone=by_phone, lock=None)
        self.re_engagement = ScriptedRepo("re_engagement", self.log, resume=resumed, paused_members=[PAUSED])
        self.tasks = ScriptedRepo("tasks", self.log, add=NEXT_ID)
        self.actions = ScriptedRepo("actions", self.log, record=None)
        self.factory = uow_factory(
            self.log,
            users=self.users,
            re_engagement=self.re_engagement,
            tasks=self.tasks,
            actions=self.actions,
        )

    def resume(self, who: str) -> tuple[UUID, bool]:
        return resume_reengagement(self.factory, who, operator="ops@yachtparty", now=NOW)


PAUSED = PausedMember(
    user_id=USER, phone_number="+14155550100", name="Ana Ruiz", paused_at=NOW, pause_reason="x", unanswered=3
)


def test_a_resume_by_user_id_lifts_the_pause_schedules_a_check_now_and_is_logged(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    world = ResumeWorld(user=member(poc_agent_type="innovator"))
    assert world.resume(str(USER)) == (USER, True)
    assert world.log.calls[:4] == [
        Call("users", "get", (USER,), {}),
        Call("users", "lock", (USER, UserLock.ACCOUNT), {}),
        Call("re_engagement", "resume", (USER,), {"now": NOW, "resumed_by": "ops@yachtparty"}),
        Call("users", "get", (USER,), {}),  # the point of contact, for the log row
    ]
    assert world.log.methods()[4:] == ["tasks.add", "actions.record"]
    assert [c.args[0] for c in world.log.of("tasks", "add")] == [
        next_task(
            at=NOW,
            context={"reason": "resumed_by_operator", "attemptCount": 1},
            dedupe=f"resumed:{NOW.isoformat()}",
        )
    ]
    assert [c.args[0] for c in world.log.of("actions", "record")] == [
        ActionRecord(
            agent_type="innovator",
            action_type="re_engagement_resumed",
            user_id=USER,
            input_data={"operator": "ops@yachtparty"},
            output_data={"resumed": True},
            created_at=NOW,
        )
    ]
    assert (world.log.entered, world.log.commits, world.log.exits_without_commit) == (1, 1, 0)
    [line] = records(caplog_info, "re-engagement resume")
    assert (line.user_id, line.operator, line.resumed) == (str(USER), "ops@yachtparty", True)  # type: ignore[attr-defined]


def test_a_member_who_was_not_paused_gets_no_check_and_the_answer_says_so(
    caplog_info: pytest.LogCaptureFixture,
) -> None:
    world = ResumeWorld(user=member(), resumed=False)
    assert world.resume(str(USER)) == (USER, False)
    assert world.log.methods() == ["users.get", "users.lock", "re_engagement.resume"]
    assert world.log.commits == 1
    [line] = records(caplog_info, "re-engagement resume")
    assert line.resumed is False  # type: ignore[attr-defined]


def test_a_resume_by_phone_number_in_any_form_finds_the_member() -> None:
    world = ResumeWorld(user=member())
    assert world.resume("(415) 555-0100") == (USER, True)
    assert world.log.calls[0] == Call("users", "id_by_phone", ("+14155550100",), {})
    assert world.log.calls[1] == Call("users", "lock", (USER, UserLock.ACCOUNT), {})


def test_a_member_gone_by_the_resume_is_logged_as_the_default_point_of_contact() -> None:
    world = ResumeWorld(user=None)
    assert world.resume("+14155550100") == (USER, True)
    [row] = [c.args[0] for c in world.log.of("actions", "record")]
    assert row.agent_type == registry.DEFAULT_MEMBER_AGENT


def test_a_user_id_that_is_no_member_is_neither_an_id_nor_a_phone_number() -> None:
    world = ResumeWorld(user=None)
    with pytest.raises(UnknownMember) as info:
        world.resume(str(USER))
    assert str(info.value) == f"{str(USER)!r} is neither a user id nor a phone number"
    assert (world.log.commits, world.log.exits_without_commit) == (0, 1)


def test_a_phone_number_of_no_member_is_named_in_the_refusal() -> None:
    world = ResumeWorld(user=None, by_phone=None)
    with pytest.raises(UnknownMember) as info:
        world.resume("415-555-0100")
    assert str(info.value) == "no user with the phone number +14155550100"
    assert world.log.methods() == ["users.id_by_phone"]


def test_paused_members_lists_them_with_the_limit_in_one_read() -> None:
    world = ResumeWorld()
    assert paused_members(world.factory, limit=25) == [PAUSED]
    assert world.log.calls == [Call("re_engagement", "paused_members", (), {"limit": 25})]
    assert (world.log.entered, world.log.commits) == (1, 0)


def test_a_re_engagement_without_an_expert_ask_waits_for_the_best_send_time() -> None:
    """Only asking the member for their expertise takes the next slot (agents.md §1's lanes)."""
    world = World(priorities=two_threads())
    llm = llm_deciding(should_message=True, threads=["t1"], message_structure="single", reason="news")
    assert world.check(llm=llm)["status"] == "queued"
    [part] = world.parts()
    assert part.message_data["threads"][0]["item_type"] == "intro_opportunity"
    assert (part.priority, part.can_delay) == ("medium", True)
