"""Dead letters (``shared/service_layer/dead_letters.py``), example by example, over an in-memory
unit of work.

Written against mutmut (docs/testing.md): the Pub/Sub recorder's row field by field (the
subscription's consumer and topic, the delivery count and its fallbacks, the error text, the
task read back from the delivery's body, the task failed on its claim or left when the claim
moved on), the recorder's use case through the consumer contract (its delivery key, no maximum
age, no task lifecycle), each replay refusal's exact text, the replayed event and requeued task,
``replay_all``'s savepoints and limit, and the two log lines the on-call reads
(docs/operating.md) with their fields. The same contract against real Postgres is
``tests/integration/test_dead_letters.py`` and ``test_dead_letters_ops.py``.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import pytest
from cloudevents.http import CloudEvent

from shared.adapters.postgres import AlreadyExists
from shared.adapters.repositories.dead_letters import DeadLetterForReplay, NewDeadLetter
from shared.adapters.repositories.tasks import FailedTask, TaskFailure
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import DEAD_LETTER_REPLAY_ALL_LIMIT
from shared.domain.events import Event
from shared.logs import DEAD_LETTER_RECORDED
from shared.service_layer.consumer import Delivery, Outcome, UowFactory
from shared.service_layer.dead_letters import (
    ATTR_SOURCE_DELIVERY_COUNT,
    ATTR_SOURCE_SUBSCRIPTION,
    REPLAY_CREATED_BY,
    ReplayError,
    ReplayResult,
    record_dead_letter_delivery,
    record_pubsub_dead_letter,
    replay_all,
    replay_dead_letter,
)

LOGGER = "shared.service_layer.dead_letters"
TASK_ID = UUID("22222222-2222-4222-8222-222222222222")
CLAIM = UUID("33333333-3333-4333-8333-333333333333")
EVENT_ID = UUID("11111111-1111-4111-8111-111111111111")
USER = UUID("44444444-4444-4444-8444-444444444444")
CONTEXT = UUID("55555555-5555-4555-8555-555555555555")
LETTER = UUID("66666666-6666-4666-8666-666666666666")
NEW_EVENT = UUID("77777777-7777-4777-8777-777777777777")
AGGREGATE = UUID("88888888-8888-4888-8888-888888888888")
PUBLISHED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SUBSCRIPTION = "projects/p/subscriptions/agent-bouncer-push"


# --- the in-memory unit of work -------------------------------------------------------------------


@dataclass
class Store:
    recorded: list[NewDeadLetter] = field(default_factory=list)
    failures: list[TaskFailure] = field(default_factory=list)
    held: set[tuple[UUID, UUID]] = field(default_factory=set)  # (task, claim) still processing
    marks: list[dict[str, Any]] = field(default_factory=list)
    letters: dict[UUID, DeadLetterForReplay] = field(default_factory=dict)
    replayed: list[UUID] = field(default_factory=list)
    failed_tasks: set[UUID] = field(default_factory=set)
    pending_again: set[UUID] = field(default_factory=set)  # requeue_failed raises AlreadyExists
    requeued: list[UUID] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    unreplayed_limits: list[int] = field(default_factory=list)
    savepoints: int = 0
    commits: int = 0


class FakeUow:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.deliveries = self
        self.dead_letters = _DeadLetters(store)
        self.tasks = _Tasks(store)
        self.events = _Events(store)

    def __enter__(self) -> FakeUow:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> list[UUID]:
        self.store.commits += 1
        return []

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self.store.savepoints += 1
        yield

    def mark(self, **fields: Any) -> bool:
        self.store.marks.append(fields)
        return True


class _DeadLetters:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, letter: NewDeadLetter) -> UUID | None:
        self.store.recorded.append(letter)
        return LETTER

    def lock(self, dead_letter_id: UUID) -> DeadLetterForReplay | None:
        return self.store.letters.get(dead_letter_id)

    def lock_unreplayed(self, *, limit: int) -> list[UUID]:
        self.store.unreplayed_limits.append(limit)
        return [k for k, v in self.store.letters.items() if v.replayed_at is None]

    def mark_replayed(self, dead_letter_id: UUID) -> None:
        self.store.replayed.append(dead_letter_id)


class _Tasks:
    def __init__(self, store: Store) -> None:
        self.store = store

    def fail_claimed(self, failures: list[TaskFailure]) -> list[FailedTask]:
        self.store.failures.extend(failures)
        return [
            FailedTask(f.id, "probe", "bouncer", None, None, None, {}, "medium", 0, None, f.error)
            for f in failures
            if (f.id, f.claim_token) in self.store.held
        ]

    def requeue_failed(self, task_id: UUID) -> bool:
        if task_id in self.store.pending_again:
            raise AlreadyExists("duplicate")
        if task_id not in self.store.failed_tasks:
            return False
        self.store.requeued.append(task_id)
        return True


class _Events:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, event: Event) -> UUID:
        self.store.events.append(event)
        return NEW_EVENT


@pytest.fixture
def store() -> Store:
    return Store()


def _uow(store: Store) -> PostgresUnitOfWork:
    return cast(PostgresUnitOfWork, FakeUow(store))


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[logging.LogRecord]]]:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    yield lambda: [r for r in caplog.records if r.name == LOGGER]


def _fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


# --- record_pubsub_dead_letter ---------------------------------------------------------------------


def _event_delivery(
    attributes: dict[str, str], data: dict[str, Any] | None = None, message_id: str = "m-9"
) -> Delivery:
    return Delivery(
        kind="event",
        id=EVENT_ID,
        type="message.received",
        attempt=1,
        published_at=PUBLISHED,
        data={"payload": {"x": 1}, "created_at": "2026-11-30T09:00:00+00:00"} if data is None else data,
        attributes=attributes,
        user_id=None,
        message_id=message_id,
    )


def _task_delivery(
    attributes: dict[str, str], data: dict[str, Any] | None = None, message_id: str = "t-9"
) -> Delivery:
    body = {
        "task_id": str(TASK_ID),
        "task_type": "probe",
        "agent_type": "bouncer",
        "user_id": str(USER),
        "context_id": str(CONTEXT),
        "context_type": "conversation",
        "context_json": {"a": 1},
        "priority": "high",
        "created_at": "2026-11-30T09:00:00+00:00",
    }
    return Delivery(
        kind="task",
        id=TASK_ID,
        type="probe",
        attempt=1,
        published_at=PUBLISHED,
        data=body if data is None else data,
        attributes=attributes,
        user_id=None,
        message_id=message_id,
    )


def test_an_event_dead_letter_is_recorded_field_by_field(
    store: Store, lines: Callable[[], list[logging.LogRecord]]
) -> None:
    delivery = _event_delivery({ATTR_SOURCE_SUBSCRIPTION: SUBSCRIPTION, ATTR_SOURCE_DELIVERY_COUNT: "5"})
    record_pubsub_dead_letter(delivery, _uow(store))
    assert store.recorded == [
        NewDeadLetter(
            event_id=EVENT_ID,
            event_type="message.received",
            payload={"x": 1},
            error_message=f"Pub/Sub gave up after 5 delivery attempts to {SUBSCRIPTION}",
            retry_count=5,
            original_created_at="2026-11-30T09:00:00+00:00",
            source="pubsub",
            topic="agent-bouncer",
            consumer="agent_bouncer",
            source_message_id="m-9",
        )
    ]
    [line] = lines()
    assert line.levelno == logging.ERROR
    assert line.getMessage() == "Pub/Sub dead letter recorded"
    assert getattr(line, DEAD_LETTER_RECORDED) is True  # what the dead-letter alert counts
    assert _fields(line, "delivery_id", "kind", "subscription", "delivery_count") == {
        "delivery_id": str(EVENT_ID),
        "kind": "event",
        "subscription": SUBSCRIPTION,
        "delivery_count": 5,
    }


def test_an_event_without_attributes_or_payload_key(
    store: Store, lines: Callable[[], list[logging.LogRecord]]
) -> None:
    delivery = _event_delivery({}, data={"body": 2}, message_id="")
    record_pubsub_dead_letter(delivery, _uow(store))
    assert store.recorded == [
        NewDeadLetter(
            event_id=EVENT_ID,
            event_type="message.received",
            payload={"body": 2},
            error_message="Pub/Sub gave up after its maximum delivery attempts to an unknown subscription",
            retry_count=0,
            original_created_at=None,
            source="pubsub",
            topic=None,
            consumer=None,
            source_message_id=None,
        )
    ]
    [line] = lines()
    assert _fields(line, "subscription", "delivery_count") == {"subscription": "", "delivery_count": 0}


def test_a_delivery_count_that_is_not_a_number_counts_as_zero(store: Store) -> None:
    delivery = _event_delivery({ATTR_SOURCE_SUBSCRIPTION: "other-push", ATTR_SOURCE_DELIVERY_COUNT: "five"})
    record_pubsub_dead_letter(delivery, _uow(store))
    [letter] = store.recorded
    assert letter.retry_count == 0
    assert letter.error_message == "Pub/Sub gave up after its maximum delivery attempts to other-push"
    assert (letter.topic, letter.consumer) == (None, None)  # no consumer behind that subscription


def test_a_task_dead_letter_fails_the_held_task_and_records_it_from_the_body(
    store: Store, lines: Callable[[], list[logging.LogRecord]]
) -> None:
    store.held.add((TASK_ID, CLAIM))
    delivery = _task_delivery(
        {ATTR_SOURCE_SUBSCRIPTION: SUBSCRIPTION, ATTR_SOURCE_DELIVERY_COUNT: "5", "claim_token": str(CLAIM)}
    )
    record_pubsub_dead_letter(delivery, _uow(store))
    error = f"Pub/Sub gave up after 5 delivery attempts to {SUBSCRIPTION}"
    assert store.failures == [TaskFailure(id=TASK_ID, claim_token=CLAIM, error=error)]
    # dead_letter=False: the failure itself records no row; the one row is the recorder's.
    assert store.recorded == [
        NewDeadLetter(
            event_id=TASK_ID,
            event_type="agent.task_ready",
            payload={
                "kind": "task",
                "task_id": str(TASK_ID),
                "task_type": "probe",
                "agent_type": "bouncer",
                "user_id": USER,
                "context_id": CONTEXT,
                "context_type": "conversation",
                "priority": "high",
                "context_json": {"a": 1},
            },
            error_message=error,
            retry_count=5,
            original_created_at="2026-11-30T09:00:00+00:00",
            source="pubsub",
            topic="agent-bouncer",
            consumer="agent_bouncer",
            source_message_id="t-9",
        )
    ]
    [line] = lines()
    assert line.levelno == logging.ERROR
    assert line.getMessage() == "Pub/Sub dead letter recorded"
    assert getattr(line, DEAD_LETTER_RECORDED) is True  # what the dead-letter alert counts
    assert _fields(line, "delivery_id", "kind", "subscription", "delivery_count") == {
        "delivery_id": str(TASK_ID),
        "kind": "task",
        "subscription": SUBSCRIPTION,
        "delivery_count": 5,
    }


def test_a_task_whose_claim_moved_on_is_still_recorded_with_a_note(store: Store) -> None:
    delivery = _task_delivery(
        {ATTR_SOURCE_SUBSCRIPTION: SUBSCRIPTION, ATTR_SOURCE_DELIVERY_COUNT: "5", "claim_token": str(CLAIM)}
    )
    record_pubsub_dead_letter(delivery, _uow(store))
    [letter] = store.recorded
    assert letter.error_message == (
        f"Pub/Sub gave up after 5 delivery attempts to {SUBSCRIPTION}"
        " (the task had already moved on from this claim)"
    )


def test_a_task_without_a_claim_is_recorded_without_failing_anything(store: Store) -> None:
    delivery = _task_delivery(
        {},
        data={"user_id": "not-a-uuid", "context_id": "", "context_json": ["not", "a", "dict"]},
        message_id="",
    )
    record_pubsub_dead_letter(delivery, _uow(store))
    assert store.failures == []
    assert store.recorded == [
        NewDeadLetter(
            event_id=TASK_ID,
            event_type="agent.task_ready",
            payload={
                "kind": "task",
                "task_id": str(TASK_ID),
                "task_type": None,
                "agent_type": None,
                "user_id": None,
                "context_id": None,
                "context_type": None,
                "priority": None,
                "context_json": {},
            },
            error_message="Pub/Sub gave up after its maximum delivery attempts to an unknown subscription",
            retry_count=0,
            original_created_at=None,
            source="pubsub",
            topic=None,
            consumer=None,
            source_message_id=None,
        )
    ]


# --- record_dead_letter_delivery (through the consumer contract) ---------------------------------


def _cloud_event(attributes: dict[str, str], body: dict[str, Any], message_id: str) -> CloudEvent:
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub", "id": message_id},
        {
            "message": {
                "attributes": attributes,
                "data": base64.b64encode(json.dumps(body).encode()).decode(),
                "publishTime": "2020-01-01T00:00:00+00:00",  # years old: still recorded
                "messageId": message_id,
            }
        },
    )


def test_the_recorder_marks_each_pubsub_message_once_however_late(store: Store) -> None:
    cloud_event = _cloud_event(
        {
            "kind": "event",
            "event_id": str(EVENT_ID),
            "event_type": "message.received",
            "attempt": "1",
            ATTR_SOURCE_SUBSCRIPTION: SUBSCRIPTION,
            ATTR_SOURCE_DELIVERY_COUNT: "5",
        },
        {"payload": {"x": 1}},
        "m-9",
    )
    factory = cast(UowFactory, lambda: FakeUow(store))
    assert record_dead_letter_delivery(cloud_event, factory) is Outcome.HANDLED
    assert store.marks == [
        {
            "consumer": "dead_letter_recorder",
            "delivery_key": "pubsub:m-9",
            "kind": "event",
            "outcome": "handled",
            "message_id": "m-9",
        }
    ]
    [letter] = store.recorded
    assert (letter.source, letter.retry_count, letter.event_id) == ("pubsub", 5, EVENT_ID)
    assert store.commits == 1


def test_the_recorder_leaves_the_task_lifecycle_to_the_recorder(store: Store) -> None:
    store.held.add((TASK_ID, CLAIM))
    cloud_event = _cloud_event(
        {
            "kind": "task",
            "task_id": str(TASK_ID),
            "task_type": "probe",
            "claim_token": str(CLAIM),
            "attempt": "1",
            ATTR_SOURCE_SUBSCRIPTION: SUBSCRIPTION,
            ATTR_SOURCE_DELIVERY_COUNT: "5",
        },
        {"task_id": str(TASK_ID)},
        "t-9",
    )
    factory = cast(UowFactory, lambda: FakeUow(store))
    assert record_dead_letter_delivery(cloud_event, factory) is Outcome.HANDLED
    assert [m["delivery_key"] for m in store.marks] == ["pubsub:t-9"]
    assert len(store.failures) == 1  # the recorder's fail_task, no lifecycle completion on top
    assert len(store.recorded) == 1


# --- replay_dead_letter ----------------------------------------------------------------------------


def _letter(
    *,
    event_id: UUID | None = EVENT_ID,
    event_type: str = "message.received",
    payload: Any = None,
    replayed_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> DeadLetterForReplay:
    return DeadLetterForReplay(
        id=LETTER,
        event_id=event_id,
        event_type=event_type,
        payload={"x": 1} if payload is None else payload,
        replayed_at=replayed_at,
        replay_count=0 if replayed_at is None else 1,
        source="consumer",
        aggregate_type="user",
        aggregate_id=AGGREGATE,
        event_metadata={"dispatch": {"attempts": 3}, "trace": "t"} if metadata is None else metadata,
        event_created_by="orchestrator",
    )


def _task_letter(replayed_at: datetime | None = None) -> DeadLetterForReplay:
    return _letter(
        event_id=TASK_ID,
        event_type="agent.task_ready",
        payload={"kind": "task", "task_id": str(TASK_ID)},
        replayed_at=replayed_at,
    )


def test_an_unknown_dead_letter_is_refused(store: Store) -> None:
    with pytest.raises(ReplayError) as caught:
        replay_dead_letter(_uow(store), LETTER)
    assert str(caught.value) == f"no dead letter {LETTER}"
    assert store.replayed == []


def test_a_replayed_dead_letter_is_refused_unless_forced(
    store: Store, lines: Callable[[], list[logging.LogRecord]]
) -> None:
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    store.letters[LETTER] = _letter(replayed_at=at)
    with pytest.raises(ReplayError) as caught:
        replay_dead_letter(_uow(store), LETTER)
    assert str(caught.value) == f"dead letter {LETTER} was already replayed at {at}"
    assert store.events == []
    assert lines() == []
    result = replay_dead_letter(_uow(store), LETTER, force=True)
    assert result == ReplayResult(LETTER, "event_reinserted", NEW_EVENT)
    assert store.replayed == [LETTER]


def test_an_event_dead_letter_is_reinserted_as_a_new_event(
    store: Store, lines: Callable[[], list[logging.LogRecord]]
) -> None:
    store.letters[LETTER] = _letter()
    result = replay_dead_letter(_uow(store), LETTER)
    assert result == ReplayResult(dead_letter_id=LETTER, action="event_reinserted", target_id=NEW_EVENT)
    assert store.events == [
        Event(
            event_type="message.received",
            aggregate_type="user",
            aggregate_id=AGGREGATE,
            payload={"x": 1},
            created_by=REPLAY_CREATED_BY,
            metadata={"trace": "t", "replay_of": str(EVENT_ID), "dead_letter_id": str(LETTER)},
        )
    ]
    assert REPLAY_CREATED_BY == "dead_letter_replay"
    assert store.replayed == [LETTER]
    [line] = lines()
    assert line.levelno == logging.INFO
    assert line.getMessage() == "dead letter replayed"
    assert _fields(line, "dead_letter_id", "action", "target_id") == {
        "dead_letter_id": str(LETTER),
        "action": "event_reinserted",
        "target_id": str(NEW_EVENT),
    }


def test_the_original_metadata_is_not_changed(store: Store) -> None:
    metadata = {"dispatch": {"attempts": 3}}
    store.letters[LETTER] = _letter(metadata=metadata)
    replay_dead_letter(_uow(store), LETTER)
    assert metadata == {"dispatch": {"attempts": 3}}
    assert store.events[0].metadata == {"replay_of": str(EVENT_ID), "dead_letter_id": str(LETTER)}


def test_an_event_never_dispatched_has_no_dispatch_metadata_to_drop(store: Store) -> None:
    store.letters[LETTER] = _letter(metadata={})
    assert replay_dead_letter(_uow(store), LETTER).action == "event_reinserted"
    assert store.events[0].metadata == {"replay_of": str(EVENT_ID), "dead_letter_id": str(LETTER)}


def test_an_undecodable_delivery_is_refused(store: Store) -> None:
    store.letters[LETTER] = _letter(event_id=None)
    with pytest.raises(ReplayError) as caught:
        replay_dead_letter(_uow(store), LETTER)
    assert str(caught.value) == f"dead letter {LETTER} is an undecodable delivery; nothing to replay"
    assert store.replayed == []


def test_a_task_dead_letter_requeues_the_failed_task(
    store: Store, lines: Callable[[], list[logging.LogRecord]]
) -> None:
    store.letters[LETTER] = _task_letter()
    store.failed_tasks.add(TASK_ID)
    result = replay_dead_letter(_uow(store), LETTER)
    assert result == ReplayResult(dead_letter_id=LETTER, action="task_requeued", target_id=TASK_ID)
    assert store.requeued == [TASK_ID]
    assert store.events == []
    assert store.replayed == [LETTER]
    [line] = lines()
    assert _fields(line, "dead_letter_id", "action", "target_id") == {
        "dead_letter_id": str(LETTER),
        "action": "task_requeued",
        "target_id": str(TASK_ID),
    }


def test_a_task_not_failed_is_refused(store: Store) -> None:
    store.letters[LETTER] = _task_letter()
    with pytest.raises(ReplayError) as caught:
        replay_dead_letter(_uow(store), LETTER)
    assert str(caught.value) == f"task {TASK_ID} is not failed (or no longer exists); nothing to requeue"
    assert store.replayed == []


def test_a_task_pending_again_is_refused(store: Store) -> None:
    store.letters[LETTER] = _task_letter()
    store.pending_again.add(TASK_ID)
    with pytest.raises(ReplayError) as caught:
        replay_dead_letter(_uow(store), LETTER)
    assert str(caught.value) == f"task {TASK_ID}: the same task is already pending again"
    assert caught.value.__suppress_context__
    assert caught.value.__cause__ is None
    assert store.replayed == []


@pytest.mark.parametrize(
    "payload",
    [{"kind": "event", "task_id": str(TASK_ID)}, ["kind", "task"], {"task_id": str(TASK_ID)}],
)
def test_a_task_ready_letter_that_is_not_a_task_payload_is_replayed_as_an_event(
    store: Store, payload: Any
) -> None:
    store.letters[LETTER] = _letter(event_type="agent.task_ready", payload=payload)
    store.failed_tasks.add(TASK_ID)
    result = replay_dead_letter(_uow(store), LETTER)
    assert result.action == "event_reinserted"
    assert store.requeued == []
    assert store.events[0].payload == payload


def test_a_task_payload_of_another_event_type_is_replayed_as_an_event(store: Store) -> None:
    store.letters[LETTER] = _letter(payload={"kind": "task", "task_id": str(TASK_ID)})
    store.failed_tasks.add(TASK_ID)
    assert replay_dead_letter(_uow(store), LETTER).action == "event_reinserted"
    assert store.requeued == []


# --- replay_all ------------------------------------------------------------------------------------


def test_replay_all_replays_each_in_its_own_savepoint_and_collects_refusals(store: Store) -> None:
    other = UUID("99999999-9999-4999-8999-999999999999")
    store.letters[LETTER] = _letter()
    store.letters[other] = DeadLetterForReplay(
        id=other,
        event_id=None,
        event_type="malformed",
        payload={},
        replayed_at=None,
        replay_count=0,
        source="consumer",
        aggregate_type=None,
        aggregate_id=None,
        event_metadata={},
        event_created_by=None,
    )
    done, refused = replay_all(_uow(store))
    assert done == [ReplayResult(LETTER, "event_reinserted", NEW_EVENT)]
    assert refused == [(other, f"dead letter {other} is an undecodable delivery; nothing to replay")]
    assert store.savepoints == 2
    assert store.unreplayed_limits == [DEAD_LETTER_REPLAY_ALL_LIMIT]
    assert DEAD_LETTER_REPLAY_ALL_LIMIT == 1000


def test_replay_all_passes_its_limit_on(store: Store) -> None:
    assert replay_all(_uow(store), limit=7) == ([], [])
    assert store.unreplayed_limits == [7]
