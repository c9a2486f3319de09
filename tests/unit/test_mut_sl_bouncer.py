"""The Bouncer's use cases (``shared/service_layer/bouncer.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): the turn it
runs for an event (the agent and its verification domain, the user, the adapters passed on, the
``bouncer turn`` log line and the answer), and the ``re_engagement_check`` task (decisions B4)
outcome by outcome: the user lock (account scope), each reason to skip and the order of its
checks, the boundaries of "the user replied" (strictly later than the last reply or the task),
the pause after the last follow-up with its ``agent_actions_log`` row, and the inbound system
trigger (its JSON, written once per task) committed before the turn runs. ``RecordingUow`` stands
in for ``PostgresUnitOfWork``; ``run_turn`` (the conversation engine, tested elsewhere; no
injection point here) is replaced by a recorder. The SQL is tested on Postgres
(tests/integration/test_bouncer_followups.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.repositories import ActionRecord, User, UserLock
from shared.agents.bouncer.agent import RE_ENGAGEMENT_TYPE, BouncerAgent
from shared.agents.conversation.protocol import TurnResult
from shared.domain.constants import BOUNCER_MAX_FOLLOWUPS
from shared.service_layer import bouncer
from shared.service_layer.bouncer import (
    bouncer_agent,
    handle_followup_task,
    handle_turn_event,
    run_bouncer_turn,
    run_followup,
)
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps
from shared.service_layer.freshness import AssumeRelevantClassifier
from tests.fakes.rows import user_row
from tests.fakes.uow import RecordingUow, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.bouncer"
USER_ID = UUID("00000000-0000-0000-0000-0000000000aa")
TASK_ID = UUID("00000000-0000-0000-0000-0000000000bb")
CONVERSATION_ID = UUID("00000000-0000-0000-0000-0000000000cc")
NOW = datetime(2026, 3, 4, 9, 7, tzinfo=UTC)
DOMAIN = "verify.example"
LLM = object()
BURST = object()


def clock() -> datetime:
    return NOW


def user(**changes: Any) -> User:
    """A user half-way through onboarding: referrer and name known, company and title missing."""
    return replace(user_row(USER_ID, NOW, poc_agent_type="bouncer", name_dropped="Grace"), **changes)


class World:
    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        found: User | None = None,
        *,
        last_user: datetime | None = None,
        scheduled_at: datetime | None = NOW,
        last_reply: datetime | None = None,
        conversation: bool = True,
        trigger_exists: bool = False,
        result: TurnResult | None = None,
    ) -> None:
        self.log = UowLog()
        self.users = ScriptedRepo("users", self.log, lock=None, get=found)
        self.messages = ScriptedRepo(
            "messages",
            self.log,
            last_user_text_at=last_user,
            last_reply_at=last_reply,
            trigger_exists=trigger_exists,
            add_system_trigger=SimpleNamespace(id=UUID(int=7)),
        )
        self.tasks = ScriptedRepo("tasks", self.log, created_at=scheduled_at)
        self.conversations = ScriptedRepo(
            "conversations",
            self.log,
            active_for_user=SimpleNamespace(id=CONVERSATION_ID) if conversation else None,
            set_status=True,
        )
        self.actions = ScriptedRepo("actions", self.log, record=None)
        self.result = result or TurnResult(status="answered", path="llm", bodies=["hi", "there"])
        self.turns: list[dict[str, Any]] = []
        self.commits_before_turn: list[int] = []
        monkeypatch.setattr(bouncer, "run_turn", self.run_turn)
        self.deps = Deps(
            uow_factory=uow_factory(
                self.log,
                users=self.users,
                messages=self.messages,
                tasks=self.tasks,
                conversations=self.conversations,
                actions=self.actions,
            ),
            llm_factory=lambda: LLM,  # type: ignore[arg-type,return-value]
            clock=clock,
            sms_factory=lambda: None,  # type: ignore[arg-type,return-value]
            publisher_factory=lambda: None,  # type: ignore[arg-type,return-value]
            freshness=AssumeRelevantClassifier(),
            verify_email_domain=DOMAIN,
            burst=BURST,  # type: ignore[arg-type]
        )

    def run_turn(self, agent: object, user_id: UUID, **kwargs: Any) -> TurnResult:
        self.turns.append({"agent": agent, "user_id": user_id, **kwargs})
        self.commits_before_turn.append(self.log.commits)
        return self.result


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def delivery(kind: str = "event", **changes: Any) -> Delivery:
    base = Delivery(
        kind=kind,  # type: ignore[arg-type]
        id=TASK_ID,
        type="message.received" if kind == "event" else "re_engagement_check",
        attempt=1,
        published_at=NOW,
        data={},
        attributes={},
        user_id=USER_ID,
    )
    return replace(base, **changes)


READS = [
    "users.lock",
    "users.get",
    "messages.last_user_text_at",
    "tasks.created_at",
    "messages.last_reply_at",
    "conversations.active_for_user",
]


# --- the turn ---------------------------------------------------------------------------------


def test_the_bouncer_agent_carries_the_verification_domain() -> None:
    agent = bouncer_agent(DOMAIN)
    assert isinstance(agent, BouncerAgent)
    assert agent.verify_domain == DOMAIN
    assert bouncer_agent(None).verify_domain is None


def test_a_turn_runs_the_bouncer_with_the_processs_adapters_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch)
    assert run_bouncer_turn(USER_ID, world.deps) is world.result
    [turn] = world.turns
    assert isinstance(turn.pop("agent"), BouncerAgent)
    assert turn == {
        "user_id": USER_ID,
        "llm": LLM,
        "uow_factory": world.deps.uow_factory,
        "clock": clock,
        "burst": BURST,
    }
    [record] = records(caplog, "bouncer turn")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]
    assert record.status == "answered"  # type: ignore[attr-defined]
    assert record.path == "llm"  # type: ignore[attr-defined]
    assert record.replies == 2  # type: ignore[attr-defined]


def test_the_turns_agent_is_given_the_deps_verification_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch)
    run_bouncer_turn(USER_ID, world.deps)
    assert world.turns[0]["agent"].verify_domain == DOMAIN


def test_an_event_runs_one_turn_for_its_user(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, result=TurnResult(status="silent", path="fallback", bodies=["x"]))
    other = UUID(int=99)
    uow = RecordingUow(world.log).as_postgres()
    answer = handle_turn_event(delivery(user_id=None, data={"user_id": str(other)}), uow, world.deps)
    assert answer == {"status": "silent", "path": "fallback", "replies": 1}
    assert [t["user_id"] for t in world.turns] == [other]
    assert world.log.calls == []


def test_an_event_without_a_user_is_a_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch)
    with pytest.raises(PermanentError):
        handle_turn_event(delivery(user_id=None), RecordingUow(world.log).as_postgres(), world.deps)
    assert world.turns == []


# --- the follow-up task: skips ----------------------------------------------------------------


def test_a_follow_up_for_a_user_gone_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, None)
    assert run_followup(USER_ID, TASK_ID, {}, world.deps) == {"status": "skipped", "reason": "no_user"}
    assert world.log.methods() == ["users.lock", "users.get"]
    assert world.log.calls[0].args == (USER_ID, UserLock.ACCOUNT)
    assert world.log.calls[1].args == (USER_ID,)
    assert world.log.commits == 0 and world.turns == []


@pytest.mark.parametrize(
    "changes",
    [
        {"verified": True},
        {"opted_out": True},
        {"onboarding_completed_at": NOW},  # awaiting approval
        {"approval_status": "rejected"},  # closed
        {"company": "Acme", "title": "CTO", "email_verified": True},  # ready to complete
    ],
)
def test_a_follow_up_is_skipped_once_onboarding_needs_no_chasing(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    world = World(monkeypatch, user(**changes))
    assert run_followup(USER_ID, TASK_ID, {}, world.deps) == {
        "status": "skipped",
        "reason": "onboarding_not_pending",
    }
    assert world.log.methods() == READS
    assert world.log.commits == 0 and world.turns == []


def test_the_follow_up_reads_with_the_users_and_the_tasks_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(verified=True))
    run_followup(USER_ID, TASK_ID, {}, world.deps)
    assert [c.args for c in world.log.calls] == [
        (USER_ID, UserLock.ACCOUNT),
        (USER_ID,),
        (USER_ID,),
        (TASK_ID,),
        (USER_ID, "bouncer"),
        (USER_ID,),
    ]


@pytest.mark.parametrize(
    ("last_user", "last_reply", "scheduled_at"),
    [
        (NOW, None, None),  # wrote, never answered
        (NOW, NOW - timedelta(seconds=1), None),  # wrote after the last reply
        (NOW, NOW + timedelta(hours=1), NOW - timedelta(seconds=1)),  # wrote after the task was scheduled
    ],
)
def test_a_user_who_replied_ends_the_cycle(
    monkeypatch: pytest.MonkeyPatch,
    last_user: datetime,
    last_reply: datetime | None,
    scheduled_at: datetime | None,
) -> None:
    world = World(monkeypatch, user(), last_user=last_user, last_reply=last_reply, scheduled_at=scheduled_at)
    assert run_followup(USER_ID, TASK_ID, {}, world.deps) == {"status": "skipped", "reason": "user_replied"}
    assert world.log.commits == 0 and world.turns == []


@pytest.mark.parametrize(
    ("last_user", "last_reply", "scheduled_at"),
    [
        (None, None, None),  # never wrote
        (None, NOW, NOW),
        (NOW, NOW, None),  # wrote at the very time of the reply: not after it
        (NOW, NOW, NOW),  # nor after the task
        (NOW, NOW + timedelta(seconds=1), NOW + timedelta(seconds=1)),
    ],
)
def test_a_user_who_did_not_write_since_is_chased(
    monkeypatch: pytest.MonkeyPatch,
    last_user: datetime | None,
    last_reply: datetime | None,
    scheduled_at: datetime | None,
) -> None:
    world = World(monkeypatch, user(), last_user=last_user, last_reply=last_reply, scheduled_at=scheduled_at)
    assert run_followup(USER_ID, TASK_ID, {}, world.deps)["status"] == "answered"


def test_a_user_who_replied_is_skipped_before_the_conversation_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch, user(), last_user=NOW, conversation=False)
    assert run_followup(USER_ID, TASK_ID, {}, world.deps)["reason"] == "user_replied"


def test_no_active_conversation_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(), conversation=False)
    assert run_followup(USER_ID, TASK_ID, {}, world.deps) == {
        "status": "skipped",
        "reason": "no_active_conversation",
    }
    assert world.log.methods() == READS
    assert world.log.commits == 0 and world.turns == []


# --- the follow-up task: the pause ------------------------------------------------------------


def test_the_check_after_the_last_follow_up_pauses_the_conversation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert BOUNCER_MAX_FOLLOWUPS == 2
    world = World(monkeypatch, user())
    data = {"context_json": {"attemptCount": BOUNCER_MAX_FOLLOWUPS + 1}}
    assert run_followup(USER_ID, TASK_ID, data, world.deps) == {"status": "paused", "attempt": 3}
    assert world.log.methods() == [*READS, "conversations.set_status", "actions.record"]
    assert world.log.of("conversations", "set_status")[0].args == (CONVERSATION_ID, "paused")
    assert world.log.of("actions", "record")[0].args == (
        ActionRecord(
            agent_type="bouncer",
            action_type="re_engagement_paused",
            user_id=USER_ID,
            context_id=CONVERSATION_ID,
            context_type="conversation",
            input_data={"attemptCount": 3, "task_id": str(TASK_ID)},
            output_data={"paused": True},
        ),
    )
    assert world.log.commits == 1 and world.turns == []
    [record] = records(caplog, "bouncer follow-ups unanswered; conversation paused")
    assert record.levelno == logging.INFO
    assert record.user_id == str(USER_ID)  # type: ignore[attr-defined]


def test_a_negative_attempt_pauses_too(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user())
    assert run_followup(USER_ID, TASK_ID, {"context_json": {"attemptCount": -1}}, world.deps) == {
        "status": "paused",
        "attempt": -1,
    }


# --- the follow-up task: the trigger and the turn ---------------------------------------------


def expected_trigger(attempt: int, *, cycle: str, last: str | None, missing: list[str]) -> str:
    return json.dumps(
        {
            "type": RE_ENGAGEMENT_TYPE,
            "task_id": str(TASK_ID),
            "attemptCount": attempt,
            "cycle": cycle,
            "maxAttempts": BOUNCER_MAX_FOLLOWUPS,
            "lastInteractionAt": last,
            "missingFields": missing,
            "guidance": "soft tone; ask whether they still want to proceed; do not list the missing fields",
        },
        sort_keys=True,
    )


def test_a_due_follow_up_writes_the_trigger_commits_and_then_runs_the_turn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    world = World(monkeypatch, user())
    data = {"context_json": {"attemptCount": 2, "cycle": "c-1", "lastInteractionAt": "2026-03-01T10:00:00Z"}}
    answer = run_followup(USER_ID, TASK_ID, data, world.deps)
    assert answer == {"status": "answered", "path": "llm", "attempt": 2, "replies": 2}
    assert world.log.methods() == [*READS, "messages.trigger_exists", "messages.add_system_trigger"]
    assert world.log.of("messages", "trigger_exists")[0].args == (USER_ID, TASK_ID)
    [trigger] = world.log.of("messages", "add_system_trigger")
    assert trigger.args == ()
    assert trigger.kwargs == {
        "conversation_id": CONVERSATION_ID,
        "user_id": USER_ID,
        "content": expected_trigger(
            2, cycle="c-1", last="2026-03-01T10:00:00Z", missing=["company", "title"]
        ),
    }
    assert world.log.commits == 1
    assert world.commits_before_turn == [1]  # the trigger is committed before the turn reads it
    assert [t["user_id"] for t in world.turns] == [USER_ID]
    assert len(records(caplog, "bouncer turn")) == 1


def test_a_first_follow_up_defaults_its_attempt_and_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(first_name=None, last_name=None))
    answer = run_followup(USER_ID, TASK_ID, {}, world.deps)
    assert answer["attempt"] == 1
    [trigger] = world.log.of("messages", "add_system_trigger")
    assert trigger.kwargs["content"] == expected_trigger(
        1, cycle=str(TASK_ID), last=None, missing=["first_name", "last_name", "company", "title"]
    )


@pytest.mark.parametrize(
    ("data", "attempt"),
    [
        ({"context_json": None}, 1),
        ({"context_json": {}}, 1),
        ({"context_json": {"attemptCount": None}}, 1),
        ({"context_json": {"attemptCount": 0}}, 1),
        ({"context_json": {"attemptCount": "2"}}, 2),
        ({"context_json": {"attemptCount": 1, "cycle": ""}}, 1),
    ],
)
def test_the_attempt_is_read_from_the_tasks_context(
    monkeypatch: pytest.MonkeyPatch, data: dict[str, Any], attempt: int
) -> None:
    world = World(monkeypatch, user())
    assert run_followup(USER_ID, TASK_ID, data, world.deps)["attempt"] == attempt
    content = json.loads(world.log.of("messages", "add_system_trigger")[0].kwargs["content"])
    assert content["attemptCount"] == attempt
    assert content["cycle"] == str(TASK_ID)


def test_a_redelivered_follow_up_does_not_write_the_trigger_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user(), trigger_exists=True)
    assert run_followup(USER_ID, TASK_ID, {}, world.deps)["status"] == "answered"
    assert world.log.methods() == [*READS, "messages.trigger_exists"]
    assert world.log.commits == 1
    assert len(world.turns) == 1


def test_a_follow_up_task_delivery_runs_for_its_user_and_task(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch, user())
    other_task = UUID(int=5)
    task = delivery(
        "task",
        id=other_task,
        user_id=None,
        data={"user_id": str(USER_ID), "context_json": {"attemptCount": 2}},
    )
    answer = handle_followup_task(task, RecordingUow(world.log).as_postgres(), world.deps)
    assert answer == {"status": "answered", "path": "llm", "attempt": 2, "replies": 2}
    assert world.log.of("users", "lock")[0].args == (USER_ID, UserLock.ACCOUNT)
    assert [t["user_id"] for t in world.turns] == [USER_ID]
    assert world.log.of("tasks", "created_at")[0].args == (other_task,)
    content = json.loads(world.log.of("messages", "add_system_trigger")[0].kwargs["content"])
    assert content["task_id"] == str(other_task)
