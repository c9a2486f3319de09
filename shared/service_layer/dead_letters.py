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

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cloudevents.abstract import CloudEvent

from shared.adapters.postgres import AlreadyExists, Sql
from shared.domain.constants import DEAD_LETTER_REPLAY_ALL_LIMIT
from shared.logs import get_logger
from shared.routing import DEAD_LETTER_RECORDER_FUNCTION, TASK_READY_EVENT, consumer_for_subscription
from shared.service_layer.consumer import Delivery, Outcome, consume
from shared.service_layer.tasks import LostLease, fail_task, record_task_dead_letter
from shared.service_layer.unit_of_work import PostgresUnitOfWork

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
                fail_task(uow.sql, delivery.id, claim_token, error, dead_letter=False)
            except LostLease:
                error += " (the task had already moved on from this claim)"
        task: dict[str, Any] = {**delivery.data, "id": delivery.id, "retry_count": delivery_count}
        record_task_dead_letter(
            uow.sql,
            task,
            source="pubsub",
            consumer=function,
            topic=topic,
            error=error,
            source_message_id=delivery.message_id or None,
        )
    else:
        uow.sql.one(
            "record_dead_letter",
            event_id=delivery.id,
            event_type=delivery.type,
            payload=json.dumps(delivery.data.get("payload", delivery.data), default=str),
            error_message=error,
            retry_count=delivery_count,
            original_created_at=delivery.data.get("created_at"),
            source="pubsub",
            topic=topic,
            consumer=function,
            source_message_id=delivery.message_id or None,
        )
    log.error(
        "Pub/Sub dead letter recorded",
        extra={
            "delivery_id": str(delivery.id),
            "kind": delivery.kind,
            "subscription": subscription,
            "delivery_count": delivery_count,
        },
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


def replay_dead_letter(sql: Sql, dead_letter_id: UUID, *, force: bool = False) -> ReplayResult:
    """Replay one dead letter inside the caller's transaction. Raises ``ReplayError``."""
    row = sql.one("lock_dead_letter", id=dead_letter_id)
    if row is None:
        raise ReplayError(f"no dead letter {dead_letter_id}")
    if row["replayed_at"] is not None and not force:
        raise ReplayError(f"dead letter {dead_letter_id} was already replayed at {row['replayed_at']}")
    payload = row["payload"]
    if row["event_type"] == TASK_READY_EVENT and isinstance(payload, dict) and payload.get("kind") == "task":
        task_id = UUID(str(payload["task_id"]))
        try:
            requeued = sql.run("requeue_failed_task", task_id=task_id)
        except AlreadyExists:
            raise ReplayError(f"task {task_id}: the same task is already pending again") from None
        if requeued == 0:
            raise ReplayError(f"task {task_id} is not failed (or no longer exists); nothing to requeue")
        result = ReplayResult(dead_letter_id, "task_requeued", task_id)
    else:
        if row["event_id"] is None:
            raise ReplayError(f"dead letter {dead_letter_id} is an undecodable delivery; nothing to replay")
        metadata = dict(row["event_metadata"] or {})
        metadata.pop("dispatch", None)
        metadata.update({"replay_of": str(row["event_id"]), "dead_letter_id": str(dead_letter_id)})
        new_id = sql.scalar(
            "insert_event",
            event_type=row["event_type"],
            aggregate_type=row["aggregate_type"],
            aggregate_id=row["aggregate_id"],
            payload=json.dumps(payload, default=str),
            metadata=json.dumps(metadata, default=str),
            created_by=REPLAY_CREATED_BY,
        )
        result = ReplayResult(dead_letter_id, "event_reinserted", UUID(str(new_id)))
    sql.run("mark_dead_letter_replayed", id=dead_letter_id)
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
    sql: Sql, *, limit: int = DEAD_LETTER_REPLAY_ALL_LIMIT
) -> tuple[list[ReplayResult], list[tuple[UUID, str]]]:
    """Replay every dead letter not replayed yet (oldest first); each in its own savepoint."""
    done: list[ReplayResult] = []
    refused: list[tuple[UUID, str]] = []
    for row in sql.all("lock_unreplayed_dead_letters", limit=limit):
        dead_letter_id = UUID(str(row["id"]))
        try:
            with sql.conn.transaction():
                done.append(replay_dead_letter(sql, dead_letter_id))
        except ReplayError as exc:
            refused.append((dead_letter_id, str(exc)))
    return done, refused
