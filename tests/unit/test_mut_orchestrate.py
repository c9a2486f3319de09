"""The orchestrator's tick pinned example by example (mutmut survivors in service_layer/orchestrate.py).

The in-memory store (``tests/fakes/orchestrator.py``) ignores several arguments a real unit of
work acts on (the budget's local date, the rolling hour's start, the body stored with a sent row,
the action log's agent and context type); ``RecordingStore`` records every call the tick makes on
it, so those arguments are asserted here. Counters are checked with two or more units of a kind
(``+= 1`` and ``= 1`` agree on one), and every log line the tick writes is pinned with its fields:
operators read them (docs/operating.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.repositories import ActionRecord, Budget, QueueRow, SendProfile, UserLock
from shared.agents.concierge.render import Rendered, RenderRequest
from shared.domain.constants import FRESHNESS_LOOKBACK_MESSAGES, ORCHESTRATOR_BATCH, ORCHESTRATOR_START_WITHIN
from shared.domain.send_policy import QueuedPart
from shared.service_layer.freshness import AssumeRelevantClassifier, Freshness, NewerMessage, QueuedForCheck
from shared.service_layer.orchestrate import (
    ACTION_SEND_BUDGETED,
    ACTION_SEND_EXEMPT,
    AGENT_TYPE,
    TickReport,
    deliver_due_messages,
    role_for,
    run_tick,
)
from tests.fakes.orchestrator import InMemoryOrchestratorStore, MemAction, MemUnitOfWork

ASSUME_RELEVANT = AssumeRelevantClassifier()
LOGGER = "shared.service_layer.orchestrate"
NOW = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # 12:00 in New York, 02:00 on the 16th in Tokyo
TOKYO_MORNING = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)  # 08:30 on the 16th in Tokyo, 18:30 in New York
NOTHING_TO_SEND = "no final_message, no text in message_data, and nothing the point of contact could write"

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class _Spy:
    """Records each method call on one repository of the fake unit of work, then makes it."""

    def __init__(self, name: str, target: object, calls: list[Call]) -> None:
        self._name, self._target, self._calls = name, target, calls

    def __getattr__(self, attr: str) -> Any:
        method = getattr(self._target, attr)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((f"{self._name}.{attr}", args, kwargs))
            return method(*args, **kwargs)

        return call


class RecordingStore(InMemoryOrchestratorStore):
    """The in-memory store whose units of work record every repository call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def __call__(self) -> MemUnitOfWork:
        uow = super().__call__()
        for name in ("users", "conversations", "messages", "queue", "budgets", "actions"):
            setattr(uow, name, _Spy(name, getattr(uow, name), self.calls))
        return uow

    def args(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args, _ in self.calls if called == name]

    def kwargs(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, _, kwargs in self.calls if called == name]


class Renderer:
    """The point of contact's renderer: writes '<kind> (<path>)', or None for kind 'nothing'."""

    def __init__(self, path: str = "template") -> None:
        self.path = path
        self.requests: list[RenderRequest] = []

    def render(self, request: RenderRequest) -> Rendered | None:
        self.requests.append(request)
        kind = request.message_data.get("kind")
        return None if kind == "nothing" else Rendered(text=f"{kind} ({self.path})", path=self.path)


class BrokenRenderer:
    def render(self, request: RenderRequest) -> Rendered | None:
        raise RuntimeError("renderer down")


class Classifier:
    """Answers with one fixed verdict and records what it was shown."""

    def __init__(self, verdict: Freshness) -> None:
        self.verdict = verdict
        self.seen: list[tuple[QueuedForCheck, list[NewerMessage]]] = []

    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness:
        self.seen.append((queued, list(newer)))
        return self.verdict


def add_user(store: InMemoryOrchestratorStore, **profile: Any) -> UUID:
    uid = uuid4()
    fields: dict[str, Any] = {
        "id": uid,
        "phone_number": "+14155550100",
        "timezone": "America/New_York",
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "opted_out": False,
        "verified": True,
        "poc_agent_type": "concierge",
        "response_pattern": {},
        "last_inbound_at": None,
    }
    fields.update(profile)
    store.add_user(SendProfile(**fields))
    return uid


def queue(
    store: InMemoryOrchestratorStore,
    uid: UUID,
    text: str | None = "hello",
    *,
    priority: str = "medium",
    agent_id: str = "concierge_1",
    due: datetime = NOW,
    created: datetime | None = None,
    fresh: bool = False,
    data: dict[str, Any] | None = None,
    sequence: tuple[UUID, int, int] | None = None,
    conversation: UUID | None = None,
) -> UUID:
    pid = uuid4()
    seq_id, pos, total = sequence if sequence else (None, None, None)
    part = QueuedPart(pid, uid, priority, due, created or due - timedelta(hours=1), seq_id, pos, total, fresh)
    store.add_row(QueueRow(part, agent_id, data or {}, text, conversation))
    return pid


def lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def unit_fields(record: logging.LogRecord) -> tuple[Any, ...]:
    return (record.user_id, record.unit, record.parts)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# run_tick and deliver_due_messages
# ---------------------------------------------------------------------------------------------


def test_a_tick_asks_for_one_batch_of_due_users_and_counts_every_user() -> None:
    store = RecordingStore()
    users = [add_user(store) for _ in range(3)]
    for uid in users:
        queue(store, uid)
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert store.args("queue.due_users") == [(NOW, ORCHESTRATOR_BATCH)]
    assert (report.users, report.sent_units, report.sent_rows) == (3, 3, 3)

    store = RecordingStore()
    users = [add_user(store) for _ in range(3)]
    for uid in users:
        queue(store, uid)
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, batch=2)
    assert store.args("queue.due_users") == [(NOW, 2)]
    assert (report.users, report.sent_units) == (2, 2)


def test_a_tick_starts_no_user_once_its_time_is_spent(caplog: pytest.LogCaptureFixture) -> None:
    """With the model slow each user can take minutes: the tick stops taking users at
    ORCHESTRATOR_START_WITHIN (none is started at the moment it runs out), so it ends inside its
    function's timeout and reports its backlog. The users left keep their rows queued."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    users = [add_user(store) for _ in range(3)]
    rows = [queue(store, uid, f"for user {n}") for n, uid in enumerate(users)]
    window = ORCHESTRATOR_START_WITHIN.total_seconds()
    readings = iter([0.0, 0.0, window - 0.1, window])  # the start, then before each user

    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, clock=lambda: next(readings))
    assert (report.users, report.sent_units, report.left_users) == (2, 2, 1)
    assert sorted(store.queue[q].status for q in rows) == ["queued", "sent", "sent"]
    (left,) = lines(caplog, "orchestrator tick ran out of time: users left for the next tick")
    assert left.levelno == logging.WARNING
    assert (left.left, left.start_within_seconds) == (1, window)  # type: ignore[attr-defined]
    (tick,) = lines(caplog, "orchestrator tick")
    assert tick.left_users == 1  # type: ignore[attr-defined]


def test_a_tick_with_time_to_spare_leaves_no_user(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    for _ in range(2):
        queue(store, add_user(store), "hello")
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, clock=lambda: 0.0)
    assert (report.users, report.left_users) == (2, 0)
    assert lines(caplog, "orchestrator tick ran out of time: users left for the next tick") == []


def test_each_failing_user_is_counted_logged_with_the_traceback_and_the_others_still_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    broken = [add_user(store), add_user(store)]
    rows = [queue(store, uid, None, data={"kind": "intro"}, priority="urgent") for uid in broken]
    fine = add_user(store)
    queue(store, fine, "still goes")
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, renderer=BrokenRenderer())
    assert (report.users, report.errors, report.sent_units) == (3, 2, 1)
    assert [store.queue[q].status for q in rows] == ["queued", "queued"]  # rolled back
    assert [o.body for o in store.outbound] == ["still goes"]
    skipped = lines(caplog, "orchestrator: user skipped after an error")
    assert sorted(r.user_id for r in skipped) == sorted(str(u) for u in broken)  # type: ignore[attr-defined]
    assert all(r.levelno == logging.ERROR and r.exc_info is not None for r in skipped)


def test_the_tick_line_carries_the_time_and_every_counter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store)
    queue(store, uid, "one")
    queue(store, uid, "two")
    queue(store, uid, "three")  # the hourly limit (2) defers the third
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    (line,) = lines(caplog, "orchestrator tick")
    assert line.now == NOW.isoformat()  # type: ignore[attr-defined]
    expected = {f.name: getattr(report, f.name) for f in dataclass_fields(TickReport)}
    assert {name: getattr(line, name) for name in expected} == expected
    assert (report.users, report.sent_units, report.deferred_units) == (1, 2, 1)


def test_deliver_due_messages_logs_the_trigger_and_ticks_with_the_classifier_and_the_renderer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store)
    stale = queue(store, uid, "old news", fresh=True, created=NOW - timedelta(hours=2))
    store.add_inbound(uid, "never mind", NOW - timedelta(hours=1))
    structured = queue(store, uid, None, data={"kind": "weekly digest"})
    classifier = Classifier(Freshness(relevant=False, reason="user moved on"))
    renderer = Renderer()
    report = deliver_due_messages(
        trigger="sweep", now=NOW, uow_factory=store, classifier=classifier, renderer=renderer
    )
    (line,) = lines(caplog, "orchestrator tick requested")
    assert line.trigger == "sweep"  # type: ignore[attr-defined]
    assert store.args("queue.due_users") == [(NOW, ORCHESTRATOR_BATCH)]
    assert (report.superseded_units, report.sent_units, report.rendered_rows) == (1, 1, 1)
    assert (store.queue[stale].status, store.queue[stale].reason) == ("superseded", "user moved on")
    assert store.queue[structured].status == "sent"
    assert [o.body for o in store.outbound] == ["weekly digest (template)"]


# ---------------------------------------------------------------------------------------------
# _process_user: the lock, the claim, the profile
# ---------------------------------------------------------------------------------------------


def test_the_user_is_locked_in_the_orchestrator_scope_and_every_locked_user_is_skipped() -> None:
    store = RecordingStore()
    held = [add_user(store), add_user(store)]
    for uid in held:
        queue(store, uid)
        store.locked_users.add(uid)  # another tick holds them
    free = add_user(store)
    queue(store, free)
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert (report.users, report.skipped_users, report.sent_units) == (3, 2, 1)
    assert sorted(store.args("users.try_lock"), key=str) == sorted(
        [(uid, UserLock.ORCHESTRATOR) for uid in [*held, free]], key=str
    )
    assert store.args("queue.claim_due_for_user") == [(free, NOW)]
    assert store.args("users.send_profile") == [(free, NOW)]


def test_due_rows_of_a_user_without_a_profile_are_left_queued_without_an_error() -> None:
    store = RecordingStore()
    ghost = uuid4()  # rows whose user the profile query does not return
    part = QueuedPart(uuid4(), ghost, "medium", NOW, NOW - timedelta(hours=1))
    store.add_row(QueueRow(part, "concierge_1", {}, "hello", None))
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert (report.users, report.errors, report.sent_units) == (1, 0, 0)
    assert store.queue[part.id].status == "queued"
    assert store.args("budgets.for_date") == []


# ---------------------------------------------------------------------------------------------
# _state_for: the member's zone, budget row, hourly window and quiet hours
# ---------------------------------------------------------------------------------------------


def test_the_budget_is_read_and_counted_on_the_members_local_date() -> None:
    store = RecordingStore()
    uid = add_user(store, timezone="Asia/Tokyo")
    qid = queue(store, uid, "good morning", priority="high", due=TOKYO_MORNING)
    run_tick(store, now=TOKYO_MORNING, classifier=ASSUME_RELEVANT)
    tokyo_day = date(2026, 1, 16)  # the 15th in UTC and in New York
    assert store.args("budgets.for_date") == [(uid, tokyo_day)]
    assert store.args("actions.budgeted_sends") == [(uid, TOKYO_MORNING - timedelta(hours=1), TOKYO_MORNING)]
    assert store.args("budgets.count_send") == [(uid, tokyo_day, TOKYO_MORNING, Budget(date=None))]
    (out,) = store.outbound
    assert store.args("queue.mark_sent") == [(qid, TOKYO_MORNING, out.id, "good morning")]
    (action,) = store.args("actions.record")
    assert action == (
        ActionRecord(
            agent_type=AGENT_TYPE,
            action_type=ACTION_SEND_BUDGETED,
            user_id=uid,
            context_id=qid,
            context_type="message_queue",
            input_data={"queue_ids": [qid], "priority": "high"},
            output_data={"message_ids": [out.id], "local_date": "2026-01-16", "budgeted": True},
            error=None,
            created_at=TOKYO_MORNING,
        ),
    )
    assert store.budgets[(uid, tokyo_day)].messages_sent == 1


def test_the_days_budget_row_and_its_own_daily_limit_hold_the_unit_until_the_quiet_hours_end() -> None:
    store = RecordingStore()
    uid = add_user(store, timezone="Asia/Tokyo")
    store.budgets[(uid, date(2026, 1, 16))] = Budget(date(2026, 1, 16), messages_sent=3, daily_limit=3)
    qid = queue(store, uid, due=TOKYO_MORNING)
    report = run_tick(store, now=TOKYO_MORNING, classifier=ASSUME_RELEVANT)
    assert report.deferred_units == 1
    # Tokyo's next midnight is in the default quiet hours: it goes at 08:00 on the 17th.
    assert store.args("queue.reschedule") == [([qid], datetime(2026, 1, 16, 23, 0, tzinfo=UTC))]
    assert store.outbound == []


def test_a_full_row_of_an_earlier_day_counts_nothing_today() -> None:
    store = RecordingStore()
    uid = add_user(store)
    store.budgets[(uid, date(2026, 1, 14))] = Budget(date(2026, 1, 14), messages_sent=1, daily_limit=1)
    qid = queue(store, uid)
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert store.queue[qid].status == "sent"
    assert store.args("budgets.for_date") == [(uid, date(2026, 1, 15))]
    limits = Budget(date(2026, 1, 14), messages_sent=1, daily_limit=1)
    assert store.args("budgets.count_send") == [(uid, date(2026, 1, 15), NOW, limits)]


def test_the_rolling_hour_counts_budgeted_sends_of_the_last_hour_against_the_rows_hourly_limit() -> None:
    store = RecordingStore()
    uid = add_user(store)
    store.budgets[(uid, date(2026, 1, 15))] = Budget(date(2026, 1, 15), messages_sent=1, hourly_limit=1)
    earlier = NOW - timedelta(minutes=20)
    store.actions.append(MemAction(ACTION_SEND_BUDGETED, uid, uuid4(), earlier, {}, {}, None))
    qid = queue(store, uid)
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert store.args("actions.budgeted_sends") == [(uid, NOW - timedelta(hours=1), NOW)]
    assert store.args("queue.reschedule") == [([qid], earlier + timedelta(hours=1))]


def test_the_members_own_quiet_hours_apply_on_both_sides_of_their_start() -> None:
    store = RecordingStore()
    uid = add_user(store, quiet_hours_start=time(12, 0), quiet_hours_end=time(14, 0))
    inside = queue(store, uid, due=NOW)  # 12:00 in New York
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert store.args("queue.reschedule") == [([inside], datetime(2026, 1, 15, 19, 0, tzinfo=UTC))]  # 14:00

    store = RecordingStore()
    uid = add_user(store, quiet_hours_start=time(12, 0), quiet_hours_end=time(14, 0))
    before = NOW - timedelta(hours=1)  # 11:00 in New York: before the member's window
    qid = queue(store, uid, due=before)
    run_tick(store, now=before, classifier=ASSUME_RELEVANT)
    assert store.queue[qid].status == "sent"


def test_quiet_hours_switched_off_in_the_budget_row_let_a_unit_go_inside_them() -> None:
    store = RecordingStore()
    uid = add_user(store, quiet_hours_start=time(12, 0), quiet_hours_end=time(14, 0))
    store.budgets[(uid, date(2026, 1, 15))] = Budget(date(2026, 1, 15), quiet_hours_enabled=False)
    qid = queue(store, uid)
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert store.queue[qid].status == "sent"


# ---------------------------------------------------------------------------------------------
# _handle_unit: each outcome counted per unit, stored and logged
# ---------------------------------------------------------------------------------------------


def test_incomplete_sequences_are_each_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store)
    seqs = [uuid4(), uuid4()]
    for seq in seqs:
        queue(store, uid, "first", sequence=(seq, 1, 3))
        queue(store, uid, "third", sequence=(seq, 3, 3))
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert report.incomplete_units == 2
    logged = lines(caplog, "orchestrator: sequence not complete this tick; left queued")
    assert sorted(unit_fields(r) for r in logged) == sorted((str(uid), str(s), 2) for s in seqs)
    assert all(r.levelno == logging.WARNING for r in logged)


def test_cancelled_units_are_each_counted_and_logged_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store, opted_out=True)
    rows = [queue(store, uid, priority="high"), queue(store, uid, priority="low")]
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert report.cancelled_units == 2
    assert store.args("queue.close") == [([q], "cancelled", "user opted out") for q in rows]
    logged = lines(caplog, "orchestrator: cancelled")
    assert [(*unit_fields(r), r.reason) for r in logged] == [  # type: ignore[attr-defined]
        (str(uid), str(q), 1, "user opted out") for q in rows
    ]


def test_deferred_units_are_each_counted_and_logged_with_the_reason_and_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    night = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # 03:00 in New York
    store = RecordingStore()
    uid = add_user(store)
    seq = uuid4()
    single = queue(store, uid, "tip", priority="high", due=night)
    parts = [queue(store, uid, f"part {p}", due=night, sequence=(seq, p, 2)) for p in (1, 2)]
    report = run_tick(store, now=night, classifier=ASSUME_RELEVANT)
    eight = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)  # 08:00 in New York
    assert report.deferred_units == 2
    assert store.args("queue.reschedule") == [([single], eight), (parts, eight)]
    logged = lines(caplog, "orchestrator: deferred")
    assert [(*unit_fields(r), r.reason, r.until) for r in logged] == [  # type: ignore[attr-defined]
        (str(uid), str(single), 1, "quiet_hours", eight.isoformat()),
        (str(uid), str(seq), 2, "quiet_hours", eight.isoformat()),
    ]


def test_superseded_units_are_each_counted_and_logged_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store)
    rows = [
        queue(store, uid, text, fresh=True, created=NOW - timedelta(hours=3), priority=priority)
        for text, priority in (("a", "high"), ("b", "medium"))
    ]
    store.add_inbound(uid, "found a cofounder already", NOW - timedelta(hours=1))
    report = run_tick(store, now=NOW, classifier=Classifier(Freshness(relevant=False, reason="moved on")))
    assert report.superseded_units == 2
    assert store.args("queue.close") == [([q], "superseded", "moved on") for q in rows]
    logged = lines(caplog, "orchestrator: superseded")
    assert [(*unit_fields(r), r.reason) for r in logged] == [  # type: ignore[attr-defined]
        (str(uid), str(q), 1, "moved on") for q in rows
    ]


def test_the_classifier_sees_the_unit_and_at_most_the_lookback_of_newer_texts_with_their_times() -> None:
    store = RecordingStore()
    uid = add_user(store)
    created = NOW - timedelta(hours=3)
    data = {"kind": "intro", "superseded_by_reply": False}
    qid = queue(store, uid, "Meet Ana?", fresh=True, created=created, data=data, agent_id="account_manager_7")
    store.add_inbound(uid, "before it was queued", created - timedelta(minutes=1))
    texts = [
        (f"text {i}", created + timedelta(minutes=i + 1)) for i in range(FRESHNESS_LOOKBACK_MESSAGES + 2)
    ]
    for content, at in texts:
        store.add_inbound(uid, content, at)
    classifier = Classifier(Freshness(relevant=True, reason="still relevant"))
    run_tick(store, now=NOW, classifier=classifier)
    ((queued, newer),) = classifier.seen
    assert queued == QueuedForCheck(
        queue_ids=(qid,),
        user_id=uid,
        created_at=created,
        message_data=data,
        final_message="Meet Ana?",
        agent_id="account_manager_7",
    )
    assert newer == [NewerMessage(c, at) for c, at in texts[:FRESHNESS_LOOKBACK_MESSAGES]]
    assert store.args("messages.user_texts_since") == [(uid, created, FRESHNESS_LOOKBACK_MESSAGES)]
    assert store.queue[qid].status == "sent"


def test_a_contextual_verdict_has_the_renderer_write_with_the_newer_texts_in_view() -> None:
    store = RecordingStore()
    uid = add_user(store)
    qid = queue(store, uid, None, fresh=True, created=NOW - timedelta(hours=2), data={"kind": "check-in"})
    store.add_inbound(uid, "I moved to Austin", NOW - timedelta(hours=1))
    classifier = Classifier(
        Freshness(relevant=True, reason="contextual", reformulate_with=("I moved to Austin",))
    )
    renderer = Renderer(path="llm")
    run_tick(store, now=NOW, classifier=classifier, renderer=renderer)
    assert renderer.requests == [
        RenderRequest(
            user_id=uid,
            agent="concierge",
            message_data={"kind": "check-in"},
            queue_id=qid,
            member_context=("I moved to Austin",),
        )
    ]
    assert [o.body for o in store.outbound] == ["check-in (llm)"]


def test_structured_rows_are_written_by_the_members_point_of_contact_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store, poc_agent_type="innovator")
    first = queue(store, uid, None, data={"kind": "intro"}, agent_id="account_manager_7", priority="urgent")
    second = queue(store, uid, None, data={"kind": "digest"}, agent_id="account_manager_7", priority="high")
    ready = queue(
        store, uid, "ready prose", data={"kind": "unused"}, priority="low", due=NOW - timedelta(hours=1)
    )
    renderer = Renderer()
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, renderer=renderer)
    assert renderer.requests == [
        RenderRequest(user_id=uid, agent="innovator", message_data={"kind": "intro"}, queue_id=first),
        RenderRequest(user_id=uid, agent="innovator", message_data={"kind": "digest"}, queue_id=second),
    ]
    assert [r.member_context for r in renderer.requests] == [(), ()]
    assert (report.rendered_rows, report.sent_units) == (2, 2)  # the hourly limit holds the third
    assert store.queue[ready].status == "queued"
    assert [(o.body, o.role) for o in store.outbound] == [
        ("intro (template)", "innovator"),
        ("digest (template)", "innovator"),
    ]
    outputs = [a.output_data for a in store.actions]
    assert [o["rendered"] for o in outputs] == [["template"], ["template"]]
    sent = lines(caplog, "orchestrator: sent")
    assert [(r.budgeted, r.role) for r in sent] == [(True, "innovator"), (True, "innovator")]  # type: ignore[attr-defined]


def test_ready_prose_is_never_handed_to_the_renderer() -> None:
    store = RecordingStore()
    uid = add_user(store)
    queue(store, uid, "final text", data={"kind": "intro"})
    queue(store, uid, None, data={"content": "content text", "kind": "intro"})
    renderer = Renderer()
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, renderer=renderer)
    assert renderer.requests == []
    assert report.rendered_rows == 0
    assert sorted(o.body for o in store.outbound) == ["content text", "final text"]
    assert all("rendered" not in a.output_data for a in store.actions)


def test_units_with_nothing_to_send_fail_whole_are_counted_recorded_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store)
    seq = uuid4()
    parts = [
        queue(store, uid, "part one", sequence=(seq, 1, 2), priority="high"),
        queue(store, uid, None, data={"kind": "nothing"}, sequence=(seq, 2, 2), priority="high"),
    ]
    empty = queue(store, uid, None, data={}, priority="low")  # nothing for the renderer either
    renderer = Renderer()
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT, renderer=renderer)
    assert [r.message_data for r in renderer.requests] == [{"kind": "nothing"}]
    assert (report.failed_units, report.sent_units, report.rendered_rows) == (2, 0, 0)
    assert store.args("queue.close") == [
        (parts, "failed", NOTHING_TO_SEND),
        ([empty], "failed", NOTHING_TO_SEND),
    ]
    assert store.outbound == []
    assert store.args("actions.record") == [
        (
            ActionRecord(
                agent_type=AGENT_TYPE,
                action_type="delivery_error",
                user_id=uid,
                context_id=key,
                context_type="message_queue",
                input_data={"queue_ids": ids},
                output_data={},
                error=NOTHING_TO_SEND,
                created_at=NOW,
            ),
        )
        for key, ids in ((seq, parts), (empty, [empty]))
    ]
    logged = lines(caplog, "orchestrator: queued message has nothing to send")
    assert [(*unit_fields(r), r.error, r.levelno) for r in logged] == [  # type: ignore[attr-defined]
        (str(uid), str(seq), 2, NOTHING_TO_SEND, logging.ERROR),
        (str(uid), str(empty), 1, NOTHING_TO_SEND, logging.ERROR),
    ]


def test_sent_units_are_counted_by_unit_and_by_row_stored_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store, poc_agent_type="innovator")
    seq = uuid4()
    parts = [queue(store, uid, f"part {p}", sequence=(seq, p, 3), priority="high") for p in (1, 2, 3)]
    single = queue(store, uid, "single", priority="low")
    report = run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    assert (report.sent_units, report.sent_rows) == (2, 4)
    assert [(o.body, o.user_id, o.queue_id) for o in store.outbound] == [
        ("part 1", uid, parts[0]),
        ("part 2", uid, parts[0]),
        ("part 3", uid, parts[0]),
        ("single", uid, single),
    ]
    out = [o.id for o in store.outbound]
    assert store.args("queue.mark_sent") == [
        (parts[0], NOW, out[0], "part 1"),
        (parts[1], NOW, out[1], "part 2"),
        (parts[2], NOW, out[2], "part 3"),
        (single, NOW, out[3], "single"),
    ]
    assert [(a.input_data, a.output_data) for a in store.actions] == [
        (
            {"queue_ids": parts, "priority": "high"},
            {"message_ids": out[:3], "local_date": "2026-01-15", "budgeted": True},
        ),
        (
            {"queue_ids": [single], "priority": "low"},
            {"message_ids": out[3:], "local_date": "2026-01-15", "budgeted": True},
        ),
    ]
    logged = lines(caplog, "orchestrator: sent")
    assert [(*unit_fields(r), r.budgeted, r.role) for r in logged] == [  # type: ignore[attr-defined]
        (str(uid), str(seq), 3, True, "concierge"),
        (str(uid), str(single), 1, True, "concierge"),
    ]


def test_an_active_members_sends_are_recorded_exempt_and_not_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store = RecordingStore()
    uid = add_user(store)
    store.add_inbound(uid, "are you there?", NOW - timedelta(minutes=2))
    qid = queue(store, uid, "yes", priority="urgent")
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    (out,) = store.outbound
    assert store.args("budgets.count_send") == []
    assert store.args("actions.record") == [
        (
            ActionRecord(
                agent_type=AGENT_TYPE,
                action_type=ACTION_SEND_EXEMPT,
                user_id=uid,
                context_id=qid,
                context_type="message_queue",
                input_data={"queue_ids": [qid], "priority": "urgent"},
                output_data={"message_ids": [out.id], "local_date": "2026-01-15", "budgeted": False},
                error=None,
                created_at=NOW,
            ),
        )
    ]
    ((record,),) = [lines(caplog, "orchestrator: sent")]
    assert (record.budgeted, record.role) == (False, "concierge")  # type: ignore[attr-defined]


def test_a_conversation_that_is_not_the_members_is_not_used() -> None:
    store = RecordingStore()
    uid = add_user(store)
    other = add_user(store)
    theirs = store.users[other].conversation_id
    queue(store, uid, "to the stranger's thread?", conversation=theirs)
    queue(store, uid, "to a thread that does not exist?", conversation=uuid4())
    store.users[uid].conversations.clear()  # add_row files a row's conversation under its member
    run_tick(store, now=NOW, classifier=ASSUME_RELEVANT)
    own = store.users[uid].conversation_id
    assert [o.conversation_id for o in store.outbound] == [own, own]


@pytest.mark.parametrize(
    ("agent_id", "poc", "role"),
    [
        ("innovator_1", "concierge", "innovator"),  # a point of contact's own prefix wins
        ("innovator", "concierge", "innovator"),  # no underscore at all
        ("innovator_reengagement_2", "concierge", "innovator"),  # the first word, not all but the last
        ("Concierge_1", "innovator", "concierge"),  # case does not matter
        ("account_manager_7", "innovator", "innovator"),
    ],
)
def test_the_role_is_the_first_word_of_the_agent_id_when_it_is_a_point_of_contact(
    agent_id: str, poc: str, role: str
) -> None:
    profile = SendProfile(uuid4(), "+14155550100", None, None, None, False, True, poc, {}, None)
    assert role_for(agent_id, profile) == role
