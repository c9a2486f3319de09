"""What ``consume`` does with a decoded delivery (``shared/service_layer/consumer.py``), example by
example, over an in-memory unit of work.

Written against the mutmut survivors in ``consume``, ``_run``, ``_mark``, ``_dead_letter``,
``_retry_task`` and ``_record_malformed`` (docs/testing.md): each outcome with exactly what it
commits (the idempotency mark, the handler's writes, the dead letter row field by field, the
task's transition), the maximum age on both sides of its edge, and each log line the on-call
reads (docs/operating.md) with its message and fields. The same contract against real Postgres
through functions-framework is ``tests/functions/test_consumer.py``.

The fake unit of work keeps every write staged until ``commit()``, like the Postgres one: a
unit of work left without a commit leaves nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from cloudevents.http import CloudEvent

from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.repositories.tasks import FailedTask, LeasedTask, TaskFailure, TaskRetry
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import EVENT_MAX_AGE
from shared.logs import DEAD_LETTER_RECORDED
from shared.service_layer.consumer import (
    MAX_RAW_IN_DEAD_LETTER,
    Delivery,
    Outcome,
    PermanentError,
    UowFactory,
    consume,
)

CONSUMER = "agent_bouncer"
TOPIC = "agent-bouncer"
EVENT_ID = UUID("11111111-1111-4111-8111-111111111111")
TASK_ID = UUID("22222222-2222-4222-8222-222222222222")
CLAIM = UUID("33333333-3333-4333-8333-333333333333")
PUBLISHED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SOON = PUBLISHED + timedelta(minutes=1)
LOGGER = "shared.service_layer.consumer"


# --- the in-memory unit of work -------------------------------------------------------------------


@dataclass
class Mark:
    kind: str
    outcome: str
    message_id: str | None


@dataclass
class Task:
    claim_token: UUID
    retry_count: int = 0
    max_retries: int = 3
    status: str = "processing"
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class Store:
    """What is committed."""

    marks: dict[tuple[str, str], Mark] = field(default_factory=dict)
    dead_letters: list[NewDeadLetter] = field(default_factory=list)
    tasks: dict[UUID, Task] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    commits: int = 0
    units: int = 0
    broken: Exception | None = None  # raised by the task repository: the database went away


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._staged: list[Callable[[], None]] = []
        self._marks: set[tuple[str, str]] = set()
        self.deliveries = _Deliveries(self)
        self.dead_letters = _DeadLetters(self)
        self.tasks = _Tasks(self)

    def __enter__(self) -> FakeUow:
        self.store.units += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._staged = []  # rolled back unless committed

    def stage(self, op: Callable[[], None]) -> None:
        self._staged.append(op)

    def write(self, what: str) -> None:
        self.stage(lambda: self.store.writes.append(what))

    def commit(self) -> list[UUID]:
        for op in self._staged:
            op()
        self._staged = []
        self.store.commits += 1
        return []


class _Deliveries:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def mark(
        self, *, consumer: str, delivery_key: str, kind: str, outcome: str, message_id: str | None
    ) -> bool:
        key = (consumer, delivery_key)
        if key in self._uow.store.marks or key in self._uow._marks:
            return False
        self._uow._marks.add(key)
        self._uow.stage(lambda: self._uow.store.marks.__setitem__(key, Mark(kind, outcome, message_id)))
        return True


class _DeadLetters:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def record(self, letter: NewDeadLetter) -> UUID | None:
        self._uow.stage(lambda: self._uow.store.dead_letters.append(letter))
        return uuid4()


class _Tasks:
    def __init__(self, uow: FakeUow) -> None:
        self._uow = uow

    def _held(self, task_id: UUID, claim_token: UUID) -> Task | None:
        if self._uow.store.broken is not None:
            raise self._uow.store.broken
        task = self._uow.store.tasks.get(task_id)
        if task is None or task.claim_token != claim_token or task.status != "processing":
            return None
        return task

    def complete(self, task_id: UUID, claim_token: UUID, result: dict[str, Any]) -> bool:
        task = self._held(task_id, claim_token)
        if task is None:
            return False

        def done(task: Task = task) -> None:
            task.status, task.result = "completed", result

        self._uow.stage(done)
        return True

    def get_claimed(self, task_id: UUID, claim_token: UUID) -> LeasedTask | None:
        task = self._held(task_id, claim_token)
        if task is None:
            return None
        return LeasedTask(task_id, claim_token, "probe", "bouncer", task.retry_count, task.max_retries)

    def requeue_claimed(self, retries: list[TaskRetry]) -> list[UUID]:
        held = []
        for retry in retries:
            task = self._held(retry.id, retry.claim_token)
            if task is None:
                continue

            def requeue(task: Task = task, retry: TaskRetry = retry) -> None:
                task.status, task.retry_count, task.error = "pending", retry.retry_count, retry.error

            self._uow.stage(requeue)
            held.append(retry.id)
        return held

    def fail_claimed(self, failures: list[TaskFailure]) -> list[FailedTask]:
        failed = []
        for failure in failures:
            task = self._held(failure.id, failure.claim_token)
            if task is None:
                continue

            def fail(task: Task = task, failure: TaskFailure = failure) -> None:
                task.status, task.error = "failed", failure.error

            self._uow.stage(fail)
            failed.append(
                FailedTask(
                    failure.id,
                    "probe",
                    "bouncer",
                    None,
                    None,
                    None,
                    {},
                    "medium",
                    task.retry_count,
                    None,
                    failure.error,
                )
            )
        return failed


@pytest.fixture
def store() -> Store:
    return Store()


def _factory(store: Store) -> UowFactory:
    return cast(UowFactory, lambda: FakeUow(store))


def _fake(uow: PostgresUnitOfWork) -> FakeUow:
    return cast(FakeUow, uow)


# --- deliveries -------------------------------------------------------------------------------------


def _cloud_event(
    attributes: dict[str, str],
    body: dict[str, Any],
    *,
    message_id: str = "m-1",
    published: datetime = PUBLISHED,
) -> CloudEvent:
    message: dict[str, Any] = {
        "attributes": attributes,
        "data": base64.b64encode(json.dumps(body).encode()).decode(),
        "publishTime": published.isoformat(),
    }
    if message_id:
        message["messageId"] = message_id
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub", "id": message_id},
        {"message": message},
    )


def _event(
    body: dict[str, Any] | None = None,
    *,
    attempt: str = "2",
    message_id: str = "m-1",
    published: datetime = PUBLISHED,
) -> CloudEvent:
    attributes = {
        "kind": "event",
        "event_id": str(EVENT_ID),
        "event_type": "message.received",
        "attempt": attempt,
    }
    return _cloud_event(
        attributes,
        {"payload": {"x": 1}} if body is None else body,
        message_id=message_id,
        published=published,
    )


def _task(
    store: Store, *, published: datetime = PUBLISHED, retry_count: int = 0, held: bool = True
) -> CloudEvent:
    store.tasks[TASK_ID] = Task(claim_token=CLAIM if held else uuid4(), retry_count=retry_count)
    attributes = {
        "kind": "task",
        "task_id": str(TASK_ID),
        "task_type": "probe",
        "claim_token": str(CLAIM),
        "attempt": str(retry_count + 1),
    }
    return _cloud_event(attributes, {"task_id": str(TASK_ID)}, message_id="t-1", published=published)


EVENT_CONTEXT = {
    "consumer": CONSUMER,
    "kind": "event",
    "delivery_id": str(EVENT_ID),
    "delivery_type": "message.received",
    "attempt": 2,
    "message_id": "m-1",
}
TASK_CONTEXT = {
    "consumer": CONSUMER,
    "kind": "task",
    "delivery_id": str(TASK_ID),
    "delivery_type": "probe",
    "attempt": 1,
    "message_id": "t-1",
}
EVENT_KEY = (CONSUMER, f"event:{EVENT_ID}")
TASK_KEY = (CONSUMER, f"task:{TASK_ID}:{CLAIM}")


# --- handlers and logs ----------------------------------------------------------------------------


def _writes(
    result: dict[str, Any] | None = None,
) -> Callable[[Delivery, PostgresUnitOfWork], dict[str, Any] | None]:
    def handler(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
        _fake(uow).write(f"{delivery.kind}:{delivery.id}")
        return result

    return handler


def _raises(exc: Exception) -> Callable[[Delivery, PostgresUnitOfWork], dict[str, Any] | None]:
    def handler(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
        _fake(uow).write("before the error")
        raise exc

    return handler


def _never(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
    raise AssertionError("the handler must not run")


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[logging.LogRecord]]]:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    yield lambda: [r for r in caplog.records if r.name == LOGGER]


def _line(records: list[logging.LogRecord], message: str) -> logging.LogRecord:
    [record] = [r for r in records if r.getMessage() == message]
    return record


def _fields(record: logging.LogRecord, names: dict[str, Any] | list[str]) -> dict[str, Any]:
    return {name: getattr(record, name, "<missing>") for name in names}


def _field(record: logging.LogRecord, name: str) -> Any:
    return getattr(record, name, "<missing>")


def _messages(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in records]


Lines = Callable[[], list[logging.LogRecord]]


# --- handled, and handled once --------------------------------------------------------------------


def test_an_event_is_handled_once_its_mark_and_writes_committed_together(store: Store, lines: Lines):
    outcome = consume(_event(), CONSUMER, _writes(), uow_factory=_factory(store), now=SOON)

    assert outcome is Outcome.HANDLED
    assert store.marks == {EVENT_KEY: Mark("event", "handled", "m-1")}
    assert store.writes == [f"event:{EVENT_ID}"]
    assert (store.units, store.commits) == (1, 1)
    assert store.dead_letters == []
    record = _line(lines(), "delivery handled")
    assert record.levelname == "INFO"
    assert _fields(record, EVENT_CONTEXT) == EVENT_CONTEXT

    again = consume(_event(message_id="m-2"), CONSUMER, _never, uow_factory=_factory(store), now=SOON)

    assert again is Outcome.DUPLICATE
    assert store.writes == [f"event:{EVENT_ID}"]
    assert store.commits == 1
    duplicate = _line(lines(), "duplicate delivery acknowledged")
    assert duplicate.levelname == "INFO"
    expected = {**EVENT_CONTEXT, "message_id": "m-2", "delivery_key": f"event:{EVENT_ID}"}
    assert _fields(duplicate, expected) == expected
    assert _messages(lines()) == [("INFO", "delivery handled"), ("INFO", "duplicate delivery acknowledged")]


def test_another_consumer_handles_the_same_event_under_its_own_mark(store: Store):
    consume(_event(), CONSUMER, _writes(), uow_factory=_factory(store), now=SOON)
    assert (
        consume(_event(), "agent_concierge", _writes(), uow_factory=_factory(store), now=SOON)
        is Outcome.HANDLED
    )
    assert set(store.marks) == {EVENT_KEY, ("agent_concierge", f"event:{EVENT_ID}")}


def test_a_delivery_without_a_message_id_is_marked_with_none(store: Store):
    consume(_event(message_id=""), CONSUMER, _writes(), uow_factory=_factory(store), now=SOON)
    assert store.marks == {EVENT_KEY: Mark("event", "handled", None)}


def test_the_caller_chooses_the_delivery_key(store: Store, lines: Lines):
    def key(delivery: Delivery) -> str:
        return f"mine:{delivery.type}"

    consume(_event(), CONSUMER, _writes(), delivery_key=key, uow_factory=_factory(store), now=SOON)
    outcome = consume(_event(), CONSUMER, _never, delivery_key=key, uow_factory=_factory(store), now=SOON)
    assert outcome is Outcome.DUPLICATE
    assert set(store.marks) == {(CONSUMER, "mine:message.received")}
    assert (
        _field(_line(lines(), "duplicate delivery acknowledged"), "delivery_key") == "mine:message.received"
    )


def test_a_task_is_completed_with_the_handlers_result_in_the_same_commit(store: Store, lines: Lines):
    outcome = consume(_task(store), CONSUMER, _writes({"done": 1}), uow_factory=_factory(store), now=SOON)
    assert outcome is Outcome.HANDLED
    task = store.tasks[TASK_ID]
    assert (task.status, task.result) == ("completed", {"done": 1})
    assert store.marks == {TASK_KEY: Mark("task", "handled", "t-1")}
    assert store.writes == [f"task:{TASK_ID}"]
    assert store.commits == 1
    assert _fields(_line(lines(), "delivery handled"), TASK_CONTEXT) == TASK_CONTEXT


def test_a_task_handler_returning_nothing_completes_with_an_empty_result(store: Store):
    consume(_task(store), CONSUMER, _writes(None), uow_factory=_factory(store), now=SOON)
    assert (store.tasks[TASK_ID].status, store.tasks[TASK_ID].result) == ("completed", {})


def test_without_the_task_lifecycle_the_task_is_left_alone(store: Store):
    outcome = consume(
        _task(store),
        CONSUMER,
        _writes({"done": 1}),
        task_lifecycle=False,
        uow_factory=_factory(store),
        now=SOON,
    )
    assert outcome is Outcome.HANDLED
    assert (store.tasks[TASK_ID].status, store.tasks[TASK_ID].result) == ("processing", None)
    assert store.marks == {TASK_KEY: Mark("task", "handled", "t-1")}
    assert store.writes == [f"task:{TASK_ID}"]


def test_a_task_whose_claim_was_lost_rolls_back_and_is_acknowledged(store: Store, lines: Lines):
    outcome = consume(
        _task(store, held=False), CONSUMER, _writes({"done": 1}), uow_factory=_factory(store), now=SOON
    )
    assert outcome is Outcome.LOST_LEASE
    assert store.marks == {}
    assert store.writes == []
    assert store.commits == 0
    assert store.tasks[TASK_ID].status == "processing"
    record = _line(lines(), "task lease lost; work rolled back")
    assert record.levelname == "WARNING"
    expected = {**TASK_CONTEXT, "error": f"task {TASK_ID} is not held by claim {CLAIM} (lease lost)"}
    assert _fields(record, expected) == expected
    assert _messages(lines()) == [("WARNING", "task lease lost; work rolled back")]


# --- the maximum age --------------------------------------------------------------------------------


def test_a_delivery_exactly_the_maximum_age_old_is_still_handled(store: Store, lines: Lines):
    outcome = consume(
        _event(), CONSUMER, _writes(), uow_factory=_factory(store), now=PUBLISHED + EVENT_MAX_AGE
    )
    assert outcome is Outcome.HANDLED
    assert _messages(lines()) == [("INFO", "delivery handled")]


def test_a_delivery_past_the_maximum_age_is_dead_lettered_with_the_reason_not_handled(
    store: Store, lines: Lines
):
    now = PUBLISHED + EVENT_MAX_AGE + timedelta(seconds=1)
    body = {"payload": {"x": 1}, "created_at": "2026-12-01T09:59:00+00:00"}
    outcome = consume(_event(body), CONSUMER, _never, uow_factory=_factory(store), now=now)

    assert outcome is Outcome.TOO_OLD
    reason = "too old: published 86401 s ago, over the maximum age of 86400 s (EVENT_MAX_AGE); not handled"
    assert store.dead_letters == [
        NewDeadLetter(
            event_id=EVENT_ID,
            event_type="message.received",
            payload={"x": 1},
            error_message=reason,
            retry_count=2,
            original_created_at="2026-12-01T09:59:00+00:00",
            source="consumer",
            topic=TOPIC,
            consumer=CONSUMER,
            source_message_id="agent_bouncer:m-1",
        )
    ]
    assert store.marks == {EVENT_KEY: Mark("event", "dead_lettered", "m-1")}
    assert store.commits == 1
    warning = _line(lines(), "delivery older than the maximum age: dead-lettered, not handled")
    assert warning.levelname == "WARNING"
    expected = {**EVENT_CONTEXT, "age_seconds": 86401.0, "max_age_seconds": 86400.0}
    assert _fields(warning, expected) == expected
    error = _line(lines(), "permanent failure; dead-lettered and acknowledged")
    assert error.levelname == "ERROR"
    assert _fields(error, {**EVENT_CONTEXT, "error": reason}) == {**EVENT_CONTEXT, "error": reason}

    again = consume(_event(body), CONSUMER, _never, uow_factory=_factory(store), now=now)
    assert again is Outcome.DUPLICATE
    assert len(store.dead_letters) == 1


def test_the_maximum_age_is_the_callers_and_none_means_no_limit(store: Store):
    late = PUBLISHED + timedelta(minutes=5, seconds=1)
    assert (
        consume(
            _event(), CONSUMER, _never, max_age=timedelta(minutes=5), uow_factory=_factory(store), now=late
        )
        is Outcome.TOO_OLD
    )
    assert store.dead_letters[0].error_message == (
        "too old: published 301 s ago, over the maximum age of 300 s (EVENT_MAX_AGE); not handled"
    )
    years = PUBLISHED + timedelta(days=900)
    assert (
        consume(_event(), "agent_concierge", _writes(), max_age=None, uow_factory=_factory(store), now=years)
        is Outcome.HANDLED
    )


def test_the_age_is_measured_against_the_clock_when_no_time_is_given(store: Store):
    recent = datetime.now(UTC) - timedelta(minutes=1)
    old = datetime.now(UTC) - EVENT_MAX_AGE - timedelta(minutes=1)
    assert (
        consume(_event(published=recent), CONSUMER, _writes(), uow_factory=_factory(store)) is Outcome.HANDLED
    )
    assert (
        consume(_event(published=old), "agent_concierge", _never, uow_factory=_factory(store))
        is Outcome.TOO_OLD
    )


def test_an_over_age_task_fails_its_task_with_the_reason(store: Store):
    now = PUBLISHED + EVENT_MAX_AGE + timedelta(seconds=2)
    outcome = consume(_task(store), CONSUMER, _never, uow_factory=_factory(store), now=now)
    assert outcome is Outcome.TOO_OLD
    reason = "too old: published 86402 s ago, over the maximum age of 86400 s (EVENT_MAX_AGE); not handled"
    assert (store.tasks[TASK_ID].status, store.tasks[TASK_ID].error) == ("failed", reason)
    [letter] = store.dead_letters
    assert (letter.event_id, letter.event_type, letter.error_message) == (TASK_ID, "agent.task_ready", reason)
    assert (letter.source, letter.consumer) == ("consumer", CONSUMER)
    assert store.marks == {TASK_KEY: Mark("task", "dead_lettered", "t-1")}


def test_an_over_age_task_on_a_lost_lease_keeps_only_the_mark(store: Store, lines: Lines):
    now = PUBLISHED + EVENT_MAX_AGE + timedelta(seconds=2)
    outcome = consume(_task(store, held=False), CONSUMER, _never, uow_factory=_factory(store), now=now)
    assert outcome is Outcome.LOST_LEASE
    assert store.marks == {TASK_KEY: Mark("task", "dead_lettered", "t-1")}
    assert store.dead_letters == []
    assert store.tasks[TASK_ID].status == "processing"
    record = _line(lines(), "permanent error on a lost lease; nothing to fail")
    assert record.levelname == "WARNING"
    assert _fields(record, TASK_CONTEXT) == TASK_CONTEXT
    assert [m for m in _messages(lines()) if m[0] == "ERROR"] == []


def test_an_over_age_task_without_the_lifecycle_is_dead_lettered_like_an_event(store: Store):
    now = PUBLISHED + EVENT_MAX_AGE + timedelta(seconds=2)
    outcome = consume(
        _task(store), CONSUMER, _never, task_lifecycle=False, uow_factory=_factory(store), now=now
    )
    assert outcome is Outcome.TOO_OLD
    assert store.tasks[TASK_ID].status == "processing"
    [letter] = store.dead_letters
    assert (letter.event_id, letter.event_type, letter.payload, letter.retry_count) == (
        TASK_ID,
        "probe",
        {"task_id": str(TASK_ID)},
        1,
    )
    assert letter.source_message_id == "agent_bouncer:t-1"


# --- permanent errors -----------------------------------------------------------------------------


def test_a_permanent_error_rolls_back_the_work_and_commits_the_mark_and_a_dead_letter(
    store: Store, lines: Lines
):
    body = {"payload": {"x": 1}, "created_at": "2026-12-01T09:59:00+00:00"}
    outcome = consume(
        _event(body),
        CONSUMER,
        _raises(PermanentError("can never work")),
        uow_factory=_factory(store),
        now=SOON,
    )

    assert outcome is Outcome.DEAD_LETTERED
    assert store.writes == []
    assert store.marks == {EVENT_KEY: Mark("event", "dead_lettered", "m-1")}
    assert store.dead_letters == [
        NewDeadLetter(
            event_id=EVENT_ID,
            event_type="message.received",
            payload={"x": 1},
            error_message="can never work",
            retry_count=2,
            original_created_at="2026-12-01T09:59:00+00:00",
            source="consumer",
            topic=TOPIC,
            consumer=CONSUMER,
            source_message_id="agent_bouncer:m-1",
        )
    ]
    assert store.commits == 1
    record = _line(lines(), "permanent failure; dead-lettered and acknowledged")
    assert record.levelname == "ERROR"
    expected = {**EVENT_CONTEXT, "error": "can never work", DEAD_LETTER_RECORDED: True}
    assert _fields(record, expected) == expected
    assert _messages(lines()) == [("ERROR", "permanent failure; dead-lettered and acknowledged")]

    assert consume(_event(body), CONSUMER, _never, uow_factory=_factory(store), now=SOON) is Outcome.DUPLICATE
    assert len(store.dead_letters) == 1


def test_a_dead_letter_without_a_payload_keeps_the_whole_body_and_no_creation_time(store: Store):
    consume(
        _event({"other": 2}, message_id=""),
        CONSUMER,
        _raises(PermanentError("no")),
        uow_factory=_factory(store),
        now=SOON,
    )
    [letter] = store.dead_letters
    assert (letter.payload, letter.original_created_at, letter.source_message_id) == (
        {"other": 2},
        None,
        None,
    )
    assert store.marks == {EVENT_KEY: Mark("event", "dead_lettered", None)}


def test_a_consumer_without_a_topic_dead_letters_with_none(store: Store):
    consume(
        _event(), "no_such_consumer", _raises(PermanentError("no")), uow_factory=_factory(store), now=SOON
    )
    [letter] = store.dead_letters
    assert (letter.topic, letter.consumer, letter.source_message_id) == (
        None,
        "no_such_consumer",
        "no_such_consumer:m-1",
    )


class Refused(PermanentError):
    pass


def test_a_permanent_error_without_a_message_is_named_by_its_class(store: Store, lines: Lines):
    consume(_event(), CONSUMER, _raises(PermanentError()), uow_factory=_factory(store), now=SOON)
    consume(_event(), "agent_concierge", _raises(Refused()), uow_factory=_factory(store), now=SOON)
    assert [letter.error_message for letter in store.dead_letters] == ["PermanentError", "Refused"]
    errors = [r for r in lines() if r.getMessage() == "permanent failure; dead-lettered and acknowledged"]
    assert [_field(r, "error") for r in errors] == ["PermanentError", "Refused"]


def test_a_permanent_error_after_another_worker_marked_the_delivery_is_a_duplicate(
    store: Store, lines: Lines
):
    def marked_meanwhile(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
        store.marks[EVENT_KEY] = Mark("event", "handled", "m-0")  # the other worker's committed mark
        raise PermanentError("can never work")

    outcome = consume(_event(), CONSUMER, marked_meanwhile, uow_factory=_factory(store), now=SOON)
    assert outcome is Outcome.DUPLICATE
    assert store.dead_letters == []
    assert store.marks == {EVENT_KEY: Mark("event", "handled", "m-0")}
    assert store.commits == 0
    assert _messages(lines()) == []


def test_a_permanent_task_failure_fails_the_task_with_its_dead_letter(store: Store, lines: Lines):
    outcome = consume(
        _task(store),
        CONSUMER,
        _raises(PermanentError("can never work")),
        uow_factory=_factory(store),
        now=SOON,
    )
    assert outcome is Outcome.DEAD_LETTERED
    assert (store.tasks[TASK_ID].status, store.tasks[TASK_ID].error) == ("failed", "can never work")
    [letter] = store.dead_letters
    assert (letter.event_id, letter.event_type, letter.error_message) == (
        TASK_ID,
        "agent.task_ready",
        "can never work",
    )
    assert (letter.source, letter.consumer) == ("consumer", CONSUMER)
    assert store.marks == {TASK_KEY: Mark("task", "dead_lettered", "t-1")}
    assert store.writes == []
    # the task's dead letter is counted once, on fail_task's own "task failed" line
    expected = {**TASK_CONTEXT, "error": "can never work", DEAD_LETTER_RECORDED: False}
    assert _fields(_line(lines(), "permanent failure; dead-lettered and acknowledged"), expected) == expected


def test_a_permanent_task_failure_on_a_lost_lease_commits_only_the_mark(store: Store, lines: Lines):
    outcome = consume(
        _task(store, held=False),
        CONSUMER,
        _raises(PermanentError("can never work")),
        uow_factory=_factory(store),
        now=SOON,
    )
    assert outcome is Outcome.LOST_LEASE
    assert store.marks == {TASK_KEY: Mark("task", "dead_lettered", "t-1")}
    assert store.dead_letters == []
    assert store.commits == 1
    assert _messages(lines()) == [("WARNING", "permanent error on a lost lease; nothing to fail")]


def test_a_permanent_task_failure_without_the_lifecycle_is_dead_lettered_like_an_event(store: Store):
    outcome = consume(
        _task(store),
        CONSUMER,
        _raises(PermanentError("no")),
        task_lifecycle=False,
        uow_factory=_factory(store),
        now=SOON,
    )
    assert outcome is Outcome.DEAD_LETTERED
    assert store.tasks[TASK_ID].status == "processing"
    [letter] = store.dead_letters
    assert (letter.event_id, letter.event_type, letter.error_message) == (TASK_ID, "probe", "no")


# --- transient errors -------------------------------------------------------------------------------


def test_a_transient_event_failure_is_raised_and_nothing_is_kept(store: Store, lines: Lines):
    boom = ValueError("boom")
    with pytest.raises(ValueError) as caught:
        consume(_event(), CONSUMER, _raises(boom), uow_factory=_factory(store), now=SOON)
    assert caught.value is boom
    assert (store.marks, store.writes, store.dead_letters, store.commits) == ({}, [], [], 0)
    record = _line(lines(), "transient failure; Pub/Sub will redeliver")
    assert record.levelname == "WARNING"
    expected = {**EVENT_CONTEXT, "error": "ValueError: boom"}
    assert _fields(record, expected) == expected


def test_a_transient_task_failure_without_the_lifecycle_is_raised_too(store: Store):
    with pytest.raises(ValueError, match="boom"):
        consume(
            _task(store),
            CONSUMER,
            _raises(ValueError("boom")),
            task_lifecycle=False,
            uow_factory=_factory(store),
            now=SOON,
        )
    assert store.tasks[TASK_ID] == Task(claim_token=CLAIM)
    assert store.commits == 0


def test_a_transient_task_failure_is_retried_by_b7_and_acknowledged(store: Store, lines: Lines):
    outcome = consume(
        _task(store), CONSUMER, _raises(ValueError("boom")), uow_factory=_factory(store), now=SOON
    )
    assert outcome is Outcome.RETRY_SCHEDULED
    task = store.tasks[TASK_ID]
    assert (task.status, task.retry_count, task.error) == ("pending", 1, "ValueError: boom")
    assert (store.marks, store.writes, store.dead_letters) == ({}, [], [])
    assert store.commits == 1
    record = _line(lines(), "task attempt failed")
    assert record.levelname == "WARNING"
    expected = {**TASK_CONTEXT, "error": "ValueError: boom"}
    assert _fields(record, expected) == expected
    assert _field(record, "decision").startswith("RetryAt(when=datetime.datetime(")
    assert _field(record, "decision").endswith(", attempts=1)")
    assert _messages(lines()) == [("WARNING", "task attempt failed")]


def test_the_last_transient_task_failure_fails_it_with_a_dead_letter(store: Store, lines: Lines):
    outcome = consume(
        _task(store, retry_count=3), CONSUMER, _raises(KeyError("k")), uow_factory=_factory(store), now=SOON
    )
    assert outcome is Outcome.RETRY_SCHEDULED
    error = "KeyError: 'k' (gave up after 3 retries (max_retries 3))"
    assert (store.tasks[TASK_ID].status, store.tasks[TASK_ID].error) == ("failed", error)
    [letter] = store.dead_letters
    assert (letter.event_id, letter.error_message, letter.source, letter.consumer) == (
        TASK_ID,
        error,
        "consumer",
        CONSUMER,
    )
    record = _line(lines(), "task attempt failed")
    assert (
        _field(record, "decision") == "GiveUp(attempts=3, reason='gave up after 3 retries (max_retries 3)')"
    )
    assert _field(record, "error") == "KeyError: 'k'"


def test_a_transient_failure_on_a_lost_lease_retries_nothing(store: Store, lines: Lines):
    def lose_then_fail(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
        store.tasks[TASK_ID].claim_token = uuid4()  # the sweeper handed it out again
        raise ValueError("boom")

    outcome = consume(_task(store), CONSUMER, lose_then_fail, uow_factory=_factory(store), now=SOON)
    assert outcome is Outcome.LOST_LEASE
    assert (store.tasks[TASK_ID].status, store.tasks[TASK_ID].retry_count) == ("processing", 0)
    assert store.commits == 0
    record = _line(lines(), "task failed on a lost lease; nothing to retry")
    assert record.levelname == "WARNING"
    expected = {**TASK_CONTEXT, "error": "ValueError: boom"}
    assert _fields(record, expected) == expected
    assert _messages(lines()) == [("WARNING", "task failed on a lost lease; nothing to retry")]


def test_when_the_retry_cannot_be_recorded_the_handlers_error_is_raised(store: Store, lines: Lines):
    boom = ValueError("boom")

    def fail_then_lose_the_database(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
        store.broken = ConnectionError("database went away")
        raise boom

    with pytest.raises(ValueError) as caught:
        consume(_task(store), CONSUMER, fail_then_lose_the_database, uow_factory=_factory(store), now=SOON)
    assert caught.value is boom
    assert caught.value.__suppress_context__
    assert store.commits == 0
    record = _line(lines(), "could not record the task retry; Pub/Sub will redeliver")
    assert record.levelname == "ERROR"
    assert record.exc_info is not None and isinstance(record.exc_info[1], ConnectionError)
    assert _fields(record, TASK_CONTEXT) == TASK_CONTEXT
    assert _messages(lines()) == [("ERROR", "could not record the task retry; Pub/Sub will redeliver")]


# --- malformed deliveries ---------------------------------------------------------------------------


def _raw_event(data: Any, ce_id: str = "ce-9") -> CloudEvent:
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub", "id": ce_id}, data
    )


def test_a_malformed_delivery_is_dead_lettered_with_what_arrived(store: Store, lines: Lines):
    attributes = {"kind": "gossip", "event_type": "message.received"}
    data = {"message": {"attributes": attributes, "data": "e30="}}
    outcome = consume(_raw_event(data), CONSUMER, _never, uow_factory=_factory(store), now=SOON)

    assert outcome is Outcome.DEAD_LETTERED
    assert store.dead_letters == [
        NewDeadLetter(
            event_id=None,
            event_type="message.received",
            payload={"raw": json.dumps(data), "attributes": attributes},
            error_message="malformed delivery: unknown delivery kind 'gossip'",
            retry_count=0,
            original_created_at=None,
            source="consumer",
            topic=TOPIC,
            consumer=CONSUMER,
            source_message_id="agent_bouncer:ce-9",
        )
    ]
    assert store.marks == {}
    assert (store.units, store.commits) == (1, 1)
    record = _line(lines(), "malformed delivery acknowledged and dead-lettered")
    assert record.levelname == "ERROR"
    expected = {
        "consumer": CONSUMER,
        "message_id": "ce-9",
        "error": "unknown delivery kind 'gossip'",
        DEAD_LETTER_RECORDED: True,
    }
    assert _fields(record, expected) == expected
    assert _messages(lines()) == [("ERROR", "malformed delivery acknowledged and dead-lettered")]


@pytest.mark.parametrize(
    ("data", "event_type", "attributes"),
    [
        ({"message": {"attributes": {"kind": "gossip"}}}, "malformed", {"kind": "gossip"}),
        (
            {"message": {"attributes": {"kind": "gossip", "event_type": ""}}},
            "malformed",
            {"kind": "gossip", "event_type": ""},
        ),
        ({"message": {"attributes": ["event_type"]}}, "malformed", ["event_type"]),
        ({"message": "not an object"}, "malformed", None),
        ({"message": {"attributes": {"event_type": "x" * 150}}}, "x" * 100, {"event_type": "x" * 150}),
    ],
    ids=["no-type", "empty-type", "attributes-not-a-map", "no-message", "long-type"],
)
def test_a_malformed_deliverys_type_and_attributes(store: Store, data: Any, event_type: str, attributes: Any):
    consume(_raw_event(data), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    [letter] = store.dead_letters
    assert (letter.event_type, letter.payload["attributes"]) == (event_type, attributes)


def test_a_malformed_deliverys_raw_text_is_cut_to_the_limit(store: Store):
    data = {"message": {"attributes": {"kind": "gossip"}, "data": "y" * (2 * MAX_RAW_IN_DEAD_LETTER)}}
    consume(_raw_event(data), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    raw = store.dead_letters[0].payload["raw"]
    assert MAX_RAW_IN_DEAD_LETTER == 8000
    assert raw == json.dumps(data)[:8000]
    assert len(raw) == 8000


def test_undecodable_bytes_are_kept_as_their_text(store: Store):
    consume(_raw_event(b"\xff\xfe"), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    [letter] = store.dead_letters
    assert letter.payload == {"raw": json.dumps("b'\\xff\\xfe'"), "attributes": None}
    assert letter.error_message == "malformed delivery: CloudEvent data is not JSON"


def test_data_json_cannot_write_is_kept_as_its_repr(store: Store):
    data: dict[str, Any] = {"message": "loop"}
    data["self"] = data
    consume(_raw_event(data), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    assert store.dead_letters[0].payload["raw"] == "{'message': 'loop', 'self': {...}}"


def _digest_key(consumer: str, data: Any) -> str:
    return f"{consumer}:sha256:" + hashlib.sha256(ascii(json.dumps(data)).encode()).hexdigest()


def test_a_malformed_delivery_without_an_id_is_keyed_by_a_digest_of_what_arrived(store: Store, lines: Lines):
    consume(
        _raw_event({"message": {}}, ce_id=""),
        "no_such_consumer",
        _never,
        uow_factory=_factory(store),
        now=SOON,
    )
    [letter] = store.dead_letters
    assert (letter.topic, letter.consumer) == (None, "no_such_consumer")
    # A redelivery of the same body has the same key, so the letter is recorded once.
    assert letter.source_message_id == _digest_key("no_such_consumer", {"message": {}})
    record = _line(lines(), "malformed delivery acknowledged and dead-lettered")
    assert (_field(record, "consumer"), _field(record, "message_id")) == ("no_such_consumer", "")


@pytest.mark.parametrize("ce_id", ["\x00", "m\x00-1"])
def test_a_malformed_delivery_whose_id_holds_a_nul_is_keyed_by_a_digest(store: Store, ce_id: str):
    data = {"message": {"attributes": {"kind": "gossip"}}}
    consume(_raw_event(data, ce_id=ce_id), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    [letter] = store.dead_letters
    assert letter.source_message_id == _digest_key(CONSUMER, data)


def test_two_different_id_less_malformed_deliveries_have_different_keys(store: Store):
    for data in ({"message": {"attributes": {"kind": "a"}}}, {"message": {"attributes": {"kind": "b"}}}):
        consume(_raw_event(data, ce_id=""), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    first, second = store.dead_letters
    assert first.source_message_id != second.source_message_id


def test_an_id_less_delivery_whose_text_json_cannot_write_is_keyed_by_its_repr(store: Store):
    data: dict[str, Any] = {"s": "\ud800"}  # a lone surrogate: its repr cannot be UTF-8 encoded as is
    data["self"] = data
    consume(_raw_event(data, ce_id=""), CONSUMER, _never, uow_factory=_factory(store), now=SOON)
    [letter] = store.dead_letters
    digest = hashlib.sha256(ascii(repr(data)).encode()).hexdigest()
    assert letter.source_message_id == f"{CONSUMER}:sha256:{digest}"
