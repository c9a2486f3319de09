"""Dead letters (decisions B6): what Pub/Sub gave up on, and replaying any dead letter.

Three sources write ``event_dead_letters``:

- ``dispatcher``: no route for an event or a task, or ``EVENT_MAX_PUBLISH_ATTEMPTS`` failed
  publishes (``dispatch_events``), a task failed by the sweeper (lease expiries exhausted);
- ``consumer``: a handler's ``PermanentError``, a malformed delivery, a task out of retries;
- ``pubsub``: a message that exhausted its push retries (5 delivery attempts) and reached a
  ``<topic>-dead-letter`` topic, recorded here by the ``dead_letter_recorder`` function.

Replay: an event dead letter is re-inserted as a NEW unprocessed event (``metadata.replay_of``
names the original), so consumers that already marked the original id handle it afresh; a
task dead letter (``event_type='agent.task_ready'``) sends the failed task back to pending with
fresh retries. Either way ``replay_count`` goes up and ``replayed_at`` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cloudevents.abstract import CloudEvent

from shared.adapters.postgres import AlreadyExists
from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.repositories.tasks import FailedTask
from shared.adapters.tasks import LostLease, fail_task, record_task_dead_letter
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import DEAD_LETTER_REPLAY_ALL_LIMIT
from shared.domain.events import Event
from shared.logs import DEAD_LETTER_RECORDED, get_logger
from shared.routing import DEAD_LETTER_RECORDER_FUNCTION, TASK_READY_EVENT, consumer_for_subscription
from shared.service_layer.consumer import Delivery, Outcome, consume

log = get_logger(__name__)

# Attributes Pub/Sub adds to a message it forwards to a dead-letter topic.
ATTR_SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
ATTR_SOURCE_DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
REPLAY_CREATED_BY = "dead_letter_replay"


class ReplayError(Exception):
    """This dead letter cannot be replayed (unknown, malformed, already replayed, task not failed)."""


@dataclass(frozen=True)
class ReplayResult:
    dead_letter_id: UUID
    action: str  # "event_reinserted" or "task_requeued"
    target_id: UUID  # the new event id, or the requeued task id


def _dead_letter_key(delivery: Delivery) -> str:
    return f"pubsub:{delivery.message_id}"


def record_pubsub_dead_letter(delivery: Delivery, uow: PostgresUnitOfWork) -> None:
    """Handler of the dead_letter_recorder: store what Pub/Sub gave up on."""
    subscription = delivery.attributes.get(ATTR_SOURCE_SUBSCRIPTION, "")
    try:
        delivery_count = int(delivery.attributes.get(ATTR_SOURCE_DELIVERY_COUNT, "0"))
    except ValueError:
        delivery_count = 0
    consumer = consumer_for_subscription(subscription) if subscription else None
    function = consumer.function if consumer else None
    topic = consumer.topic if consumer else None
    error = (
        f"Pub/Sub gave up after {delivery_count or 'its maximum'} delivery attempts "
        f"to {subscription or 'an unknown subscription'}"
    )
    if delivery.kind == "task":
        claim_token = delivery.claim_token
        if claim_token is not None:
            try:
                fail_task(uow, delivery.id, claim_token, error, dead_letter=False)
            except LostLease:
                error += " (the task had already moved on from this claim)"
        letter = record_task_dead_letter(
            uow,
            _failed_task(delivery, delivery_count),
            source="pubsub",
            consumer=function,
            topic=topic,
            error=error,
            source_message_id=delivery.message_id or None,
        )
    else:
        letter = uow.dead_letters.record(
            NewDeadLetter(
                event_id=delivery.id,
                event_type=delivery.type,
                payload=delivery.data.get("payload", delivery.data),
                error_message=error,
                retry_count=delivery_count,
                original_created_at=delivery.data.get("created_at"),
                source="pubsub",
                topic=topic,
                consumer=function,
                source_message_id=delivery.message_id or None,
            )
        )
    log.error(
        "Pub/Sub dead letter recorded",
        extra={
            "delivery_id": str(delivery.id),
            "kind": delivery.kind,
            "subscription": subscription,
            "delivery_count": delivery_count,
            DEAD_LETTER_RECORDED: letter is not None,  # a redelivered dead letter is not a new one
        },
    )


def _uuid_field(data: dict[str, Any], key: str) -> UUID | None:
    try:
        return UUID(str(data[key])) if data.get(key) else None
    except ValueError:
        return None


def _failed_task(delivery: Delivery, delivery_count: int) -> FailedTask:
    """The task a dead-lettered task delivery was about, from the delivery's own body."""
    data = delivery.data
    context_json = data.get("context_json")
    return FailedTask(
        id=delivery.id,
        task_type=data.get("task_type"),
        agent_type=data.get("agent_type"),
        user_id=_uuid_field(data, "user_id"),
        context_id=_uuid_field(data, "context_id"),
        context_type=data.get("context_type"),
        context_json=context_json if isinstance(context_json, dict) else {},
        priority=data.get("priority"),
        retry_count=delivery_count,
        created_at=data.get("created_at"),
        error=None,
    )


def _recorder_handler(delivery: Delivery, uow: PostgresUnitOfWork) -> None:
    record_pubsub_dead_letter(delivery, uow)


def record_dead_letter_delivery(
    cloud_event: CloudEvent, uow_factory: Callable[[], PostgresUnitOfWork] = PostgresUnitOfWork
) -> Outcome:
    """The dead_letter_recorder's use case, through the consumer contract (idempotent per message)."""
    return consume(
        cloud_event,
        DEAD_LETTER_RECORDER_FUNCTION,
        _recorder_handler,
        delivery_key=_dead_letter_key,
        max_age=None,  # a dead letter is recorded however late it arrives
        task_lifecycle=False,
        uow_factory=uow_factory,
    )


def replay_dead_letter(uow: PostgresUnitOfWork, dead_letter_id: UUID, *, force: bool = False) -> ReplayResult:
    """Replay one dead letter inside the caller's unit of work. Raises ``ReplayError``."""
    letter = uow.dead_letters.lock(dead_letter_id)
    if letter is None:
        raise ReplayError(f"no dead letter {dead_letter_id}")
    if letter.replayed_at is not None and not force:
        raise ReplayError(f"dead letter {dead_letter_id} was already replayed at {letter.replayed_at}")
    payload = letter.payload
    if letter.event_type == TASK_READY_EVENT and isinstance(payload, dict) and payload.get("kind") == "task":
        task_id = UUID(str(payload["task_id"]))
        try:
            requeued = uow.tasks.requeue_failed(task_id)
        except AlreadyExists:
            raise ReplayError(f"task {task_id}: the same task is already pending again") from None
        if not requeued:
            raise ReplayError(f"task {task_id} is not failed (or no longer exists); nothing to requeue")
        result = ReplayResult(dead_letter_id, "task_requeued", task_id)
    else:
        if letter.event_id is None:
            raise ReplayError(f"dead letter {dead_letter_id} is an undecodable delivery; nothing to replay")
        metadata = dict(letter.event_metadata)
        metadata.pop("dispatch", None)
        metadata.update({"replay_of": str(letter.event_id), "dead_letter_id": str(dead_letter_id)})
        new_id = uow.events.add(
            Event(
                event_type=letter.event_type,
                aggregate_type=letter.aggregate_type,
                aggregate_id=letter.aggregate_id,
                payload=payload,
                created_by=REPLAY_CREATED_BY,
                metadata=metadata,
            )
        )
        result = ReplayResult(dead_letter_id, "event_reinserted", new_id)
    uow.dead_letters.mark_replayed(dead_letter_id)
    log.info(
        "dead letter replayed",
        extra={
            "dead_letter_id": str(dead_letter_id),
            "action": result.action,
            "target_id": str(result.target_id),
        },
    )
    return result


def replay_all(
    uow: PostgresUnitOfWork, *, limit: int = DEAD_LETTER_REPLAY_ALL_LIMIT
) -> tuple[list[ReplayResult], list[tuple[UUID, str]]]:
    """Replay every dead letter not replayed yet (oldest first); each in its own savepoint."""
    done: list[ReplayResult] = []
    refused: list[tuple[UUID, str]] = []
    for dead_letter_id in uow.dead_letters.lock_unreplayed(limit=limit):
        try:
            with uow.savepoint():
                done.append(replay_dead_letter(uow, dead_letter_id))
        except ReplayError as exc:
            refused.append((dead_letter_id, str(exc)))
    return done, refused
