"""The consumer contract: how every Pub/Sub-triggered function handles a delivery.

Entry point (a thin ``functions/<name>/main.py``)::

    @functions_framework.cloud_event
    def agent_bouncer(cloud_event: CloudEvent) -> None:
        consume(cloud_event, "agent_bouncer", handle_bouncer_delivery)

    def handle_bouncer_delivery(delivery: Delivery, uow: PostgresUnitOfWork) -> dict | None:
        ...  # read and write through uow's repositories, uow.emit(...); do NOT call uow.commit()

What ``consume`` guarantees
---------------------------
- **Decoding.** A push subscription posts ``{"message": {"data", "attributes", "messageId",
  "publishTime"}, "subscription"}``; functions-framework turns that raw body into a CloudEvent
  whose data is ``{"message": {...}}`` (``event_conversion.marshal_background_event_data``; the
  ``subscription`` and ``deliveryAttempt`` fields are dropped). Eventarc sends a CloudEvent with
  the same ``data.message``. Both decode to a ``Delivery``.
- **Malformed** deliveries (bad base64/JSON, missing attributes) are permanent: acknowledged and
  recorded in ``event_dead_letters`` (source ``consumer``), never retried.
- **Too old**: a delivery published more than ``EVENT_MAX_AGE`` ago is not handled: it becomes a
  dead letter with the reason (and a task delivery fails its task), committed with the mark
  ``dead_lettered``, so an operator sees it and can replay it. Never just a log line. Only a
  handler's own commit marks a delivery ``handled``.
- **Exactly-once effect.** One transaction holds: the idempotency mark
  (``processed_deliveries``, key ``event:<id>`` or ``task:<id>:<claim token>``), the handler's
  writes, the events it emitted and, for task deliveries, the guarded ``complete_task`` with the
  handler's return value as ``result_json``. Commit happens once, after the handler returns. A
  redelivery - Pub/Sub retrying, or the dispatcher republishing after dying between publish
  and mark-processed - finds the mark and is acknowledged without running the handler. Two
  copies arriving at once serialise on the mark's primary key: the second waits, then skips.
- **Permanent errors** (``PermanentError``): the handler's writes roll back; the mark (outcome
  ``dead_lettered``) and a dead letter are committed instead, and a task is failed. Acknowledged.
- **Transient errors** (anything else): the handler's writes roll back. An event delivery
  re-raises, so functions-framework answers 500 and Pub/Sub redelivers with backoff (after 5
  attempts the dead-letter topic takes it, decisions B6). A task delivery is handed to B7's own
  retry instead (``retry_task``: back to pending in 1, 2, 4 minutes, then failed), and
  acknowledged; if even that cannot be written, the error is re-raised.
- **Lost lease**: a task whose claim token no longer holds (``LostLease``) rolls back and is
  acknowledged: someone else owns it now.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from cloudevents.abstract import CloudEvent

from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.tasks import LostLease, complete_task, fail_task, retry_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import EVENT_MAX_AGE
from shared.logs import DEAD_LETTER_RECORDED, get_logger
from shared.routing import CONSUMERS, PLANNED_CONSUMERS

log = get_logger(__name__)

MAX_RAW_IN_DEAD_LETTER = 8000  # characters of an undecodable message kept for the operator


@dataclass(frozen=True)
class Delivery:
    kind: Literal["event", "task"]
    id: UUID  # event id or task id
    type: str  # event_type or task_type
    attempt: int  # the publisher's attempt number (events: publish attempt; tasks: retry_count + 1)
    published_at: datetime
    data: dict[str, Any]  # the JSON body the dispatcher or sweeper published
    attributes: dict[str, str]
    user_id: UUID | None
    message_id: str = ""  # Pub/Sub message id
    subscription: str = field(default="", compare=False)

    @property
    def claim_token(self) -> UUID | None:
        """The sweeper's claim token for a task delivery (None for events)."""
        raw = self.attributes.get("claim_token")
        return UUID(raw) if raw else None


class PermanentError(Exception):
    """Retrying cannot help: acknowledge, dead-letter, and (for a task) fail it."""


class MalformedDelivery(PermanentError):
    """The Pub/Sub message cannot be decoded into a Delivery."""


def delivery_user_id(delivery: Delivery) -> UUID:
    """The member a delivery is about: its ``user_id`` attribute, else the body's. Permanent error
    when there is none or it is not a UUID (retrying cannot help)."""
    raw = (
        delivery.user_id
        or delivery.data.get("user_id")
        or (delivery.data.get("payload") or {}).get("user_id")
    )
    if raw is None:
        raise PermanentError(f"{delivery.kind} {delivery.type} carries no user id")
    try:
        return UUID(str(raw))
    except ValueError:
        raise PermanentError(f"user id is not a UUID: {raw!r}") from None


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    TOO_OLD = "too_old"
    RETRY_SCHEDULED = "retry_scheduled"
    LOST_LEASE = "lost_lease"


Handler = Callable[[Delivery, PostgresUnitOfWork], dict[str, Any] | None]
UowFactory = Callable[[], PostgresUnitOfWork]


def _uuid(value: Any, what: str) -> UUID:
    try:
        return UUID(str(value))
    except (ValueError, TypeError):
        raise MalformedDelivery(f"{what} is not a UUID: {value!r}") from None


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        raise MalformedDelivery(f"publish time missing or not a string: {value!r}")
    # Python 3.11's fromisoformat reads Pub/Sub's forms itself: "Z", and nanoseconds (it keeps
    # microseconds). An earlier hand normalisation misread a fraction followed by an offset.
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedDelivery(f"publish time is not ISO 8601: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def pubsub_message(cloud_event: CloudEvent) -> dict[str, Any]:
    """The ``message`` object of a Pub/Sub CloudEvent (raw push body or Eventarc), unchecked."""
    data = cloud_event.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise MalformedDelivery("CloudEvent data is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise MalformedDelivery("CloudEvent data has no Pub/Sub 'message' object")
    message: dict[str, Any] = data["message"]
    return message


def decode_delivery(cloud_event: CloudEvent) -> Delivery:
    """A Pub/Sub CloudEvent as a Delivery. Raises ``MalformedDelivery``."""
    message = pubsub_message(cloud_event)
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise MalformedDelivery("message attributes must map strings to strings")
    raw = message.get("data")
    if not isinstance(raw, str):
        raise MalformedDelivery("message data missing")
    try:
        body = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise MalformedDelivery("message data is not base64-encoded JSON") from None
    if not isinstance(body, dict):
        raise MalformedDelivery("message data is not a JSON object")

    kind = attributes.get("kind")
    if kind == "event":
        delivery_id = _uuid(attributes.get("event_id"), "event_id attribute")
        type_ = attributes.get("event_type") or ""
        body_id = body.get("event_id")
    elif kind == "task":
        delivery_id = _uuid(attributes.get("task_id"), "task_id attribute")
        type_ = attributes.get("task_type") or ""
        body_id = body.get("task_id")
        _uuid(attributes.get("claim_token"), "claim_token attribute")
    else:
        raise MalformedDelivery(f"unknown delivery kind {kind!r}")
    if not type_:
        raise MalformedDelivery(f"{kind} delivery without a type attribute")
    if body_id is not None and str(body_id) != str(delivery_id):
        raise MalformedDelivery("message body and attributes name different ids")
    try:
        attempt = int(attributes.get("attempt", "1"))
    except ValueError:
        raise MalformedDelivery("attempt attribute is not an integer") from None
    user_raw = attributes.get("user_id")
    message_id = str(message.get("messageId") or cloud_event.get("id") or "")
    if "\x00" in message_id:  # Pub/Sub's ids are digits; Postgres text cannot hold NUL
        raise MalformedDelivery("message id holds a NUL character")
    return Delivery(
        kind=kind,
        id=delivery_id,
        type=type_,
        attempt=attempt,
        published_at=_parse_time(message.get("publishTime") or cloud_event.get("time")),
        data=body,
        attributes=dict(attributes),
        user_id=_uuid(user_raw, "user_id attribute") if user_raw else None,
        message_id=message_id,
    )


def default_delivery_key(delivery: Delivery) -> str:
    if delivery.kind == "task":
        return f"task:{delivery.id}:{delivery.claim_token}"
    return f"event:{delivery.id}"


def topic_of(consumer: str) -> str | None:
    for candidate in (*CONSUMERS.values(), *PLANNED_CONSUMERS.values()):
        if candidate.function == consumer:
            return candidate.topic
    return None


def consume(
    cloud_event: CloudEvent,
    consumer: str,
    handler: Handler,
    *,
    delivery_key: Callable[[Delivery], str] = default_delivery_key,
    max_age: timedelta | None = EVENT_MAX_AGE,
    task_lifecycle: bool = True,
    uow_factory: UowFactory = PostgresUnitOfWork,
    now: datetime | None = None,
) -> Outcome:
    """Run ``handler`` at most once per delivery for ``consumer`` (the function's folder name).

    ``task_lifecycle=False`` (the dead_letter_recorder) leaves task deliveries' claims alone:
    no automatic complete, retry or fail.
    """
    try:
        delivery = decode_delivery(cloud_event)
    except MalformedDelivery as exc:
        _record_malformed(cloud_event, consumer, str(exc), uow_factory)
        return Outcome.DEAD_LETTERED

    context = {
        "consumer": consumer,
        "kind": delivery.kind,
        "delivery_id": str(delivery.id),
        "delivery_type": delivery.type,
        "attempt": delivery.attempt,
        "message_id": delivery.message_id,
    }
    age = (now or datetime.now(UTC)) - delivery.published_at
    if max_age is not None and age > max_age:
        log.warning(
            "delivery older than the maximum age: dead-lettered, not handled",
            extra={**context, "age_seconds": age.total_seconds(), "max_age_seconds": max_age.total_seconds()},
        )
        outcome = _dead_letter(
            delivery=delivery,
            consumer=consumer,
            key=delivery_key(delivery),
            error=(
                f"too old: published {age.total_seconds():.0f} s ago, over the maximum age of "
                f"{max_age.total_seconds():.0f} s (EVENT_MAX_AGE); not handled"
            ),
            context=context,
            uow_factory=uow_factory,
            task_lifecycle=task_lifecycle,
        )
        return Outcome.TOO_OLD if outcome is Outcome.DEAD_LETTERED else outcome

    return _run(
        delivery,
        consumer,
        handler,
        key=delivery_key(delivery),
        context=context,
        task_lifecycle=task_lifecycle,
        uow_factory=uow_factory,
    )


def _run(
    delivery: Delivery,
    consumer: str,
    handler: Handler,
    *,
    key: str,
    context: dict[str, Any],
    task_lifecycle: bool,
    uow_factory: UowFactory,
) -> Outcome:
    try:
        with uow_factory() as uow:
            if not _mark(uow, consumer, key, delivery, "handled"):
                log.info("duplicate delivery acknowledged", extra={**context, "delivery_key": key})
                return Outcome.DUPLICATE
            result = handler(delivery, uow)
            if delivery.kind == "task" and task_lifecycle:
                assert delivery.claim_token is not None
                complete_task(uow, delivery.id, delivery.claim_token, result or {})
            uow.commit()
    except LostLease as exc:
        log.warning("task lease lost; work rolled back", extra={**context, "error": str(exc)})
        return Outcome.LOST_LEASE
    except PermanentError as exc:
        error = str(exc) or type(exc).__name__
        return _dead_letter(
            delivery=delivery,
            consumer=consumer,
            key=key,
            error=error,
            context=context,
            uow_factory=uow_factory,
            task_lifecycle=task_lifecycle,
        )
    except Exception as exc:
        if delivery.kind == "task" and task_lifecycle:
            return _retry_task(delivery, consumer, exc, context, uow_factory)
        log.warning(
            "transient failure; Pub/Sub will redeliver",
            extra={**context, "error": f"{type(exc).__name__}: {exc}"},
        )
        raise
    log.info("delivery handled", extra=context)
    return Outcome.HANDLED


def _mark(uow: PostgresUnitOfWork, consumer: str, key: str, delivery: Delivery, outcome: str) -> bool:
    return uow.deliveries.mark(
        consumer=consumer,
        delivery_key=key,
        kind=delivery.kind,
        outcome=outcome,
        message_id=delivery.message_id or None,
    )


def _dead_letter(
    *,
    delivery: Delivery,
    consumer: str,
    key: str,
    error: str,
    context: dict[str, Any],
    uow_factory: UowFactory,
    task_lifecycle: bool,
) -> Outcome:
    recorded = False  # a task's dead letter is counted on fail_task's own line ("task failed")
    with uow_factory() as uow:
        if not _mark(uow, consumer, key, delivery, "dead_lettered"):
            return Outcome.DUPLICATE
        if delivery.kind == "task" and task_lifecycle:
            assert delivery.claim_token is not None
            try:
                fail_task(uow, delivery.id, delivery.claim_token, error, consumer=consumer)
            except LostLease:
                log.warning("permanent error on a lost lease; nothing to fail", extra=context)
                uow.commit()
                return Outcome.LOST_LEASE
        else:
            letter = uow.dead_letters.record(
                NewDeadLetter(
                    event_id=delivery.id,
                    event_type=delivery.type,
                    payload=delivery.data.get("payload", delivery.data),
                    error_message=error,
                    retry_count=delivery.attempt,
                    original_created_at=delivery.data.get("created_at"),
                    source="consumer",
                    topic=topic_of(consumer),
                    consumer=consumer,
                    source_message_id=f"{consumer}:{delivery.message_id}" if delivery.message_id else None,
                )
            )
            recorded = letter is not None
        uow.commit()
    log.error(
        "permanent failure; dead-lettered and acknowledged",
        extra={**context, "error": error, DEAD_LETTER_RECORDED: recorded},
    )
    return Outcome.DEAD_LETTERED


def _retry_task(
    delivery: Delivery,
    consumer: str,
    exc: Exception,
    context: dict[str, Any],
    uow_factory: UowFactory,
) -> Outcome:
    error = f"{type(exc).__name__}: {exc}"
    assert delivery.claim_token is not None
    try:
        with uow_factory() as uow:
            decision = retry_task(uow, delivery.id, delivery.claim_token, error, consumer=consumer)
            uow.commit()
    except LostLease:
        log.warning("task failed on a lost lease; nothing to retry", extra={**context, "error": error})
        return Outcome.LOST_LEASE
    except Exception:
        log.exception("could not record the task retry; Pub/Sub will redeliver", extra=context)
        raise exc from None
    log.warning("task attempt failed", extra={**context, "error": error, "decision": repr(decision)})
    return Outcome.RETRY_SCHEDULED


def _malformed_key(consumer: str, message_id: str, raw_text: str) -> str:
    """What makes a redelivered malformed delivery a no-op: its message id, or, when it has none
    that can be stored (empty, or with a NUL), a digest of what arrived (the attributes are in it;
    ``ascii`` so that even a lone surrogate in the text can be hashed)."""
    if message_id and "\x00" not in message_id:
        return f"{consumer}:{message_id}"
    return f"{consumer}:sha256:{hashlib.sha256(ascii(raw_text).encode()).hexdigest()}"


def _record_malformed(cloud_event: CloudEvent, consumer: str, error: str, uow_factory: UowFactory) -> None:
    raw = cloud_event.get_data()
    try:
        raw_text = json.dumps(raw, default=str)
    except (TypeError, ValueError):
        raw_text = repr(raw)
    message_id = str(cloud_event.get("id") or "")
    attributes: Any = None
    with contextlib.suppress(MalformedDelivery):
        attributes = pubsub_message(cloud_event).get("attributes")
    with uow_factory() as uow:
        letter = uow.dead_letters.record(
            NewDeadLetter(
                event_id=None,
                event_type=str(
                    attributes.get("event_type") or "malformed"
                    if isinstance(attributes, dict)
                    else "malformed"
                )[:100],
                payload={"raw": raw_text[:MAX_RAW_IN_DEAD_LETTER], "attributes": attributes},
                error_message=f"malformed delivery: {error}",
                retry_count=0,
                original_created_at=None,
                source="consumer",
                topic=topic_of(consumer),
                consumer=consumer,
                source_message_id=_malformed_key(consumer, message_id, raw_text),
            )
        )
        uow.commit()
    log.error(
        "malformed delivery acknowledged and dead-lettered",
        extra={
            "consumer": consumer,
            "message_id": message_id,
            "error": error,
            DEAD_LETTER_RECORDED: letter is not None,
        },
    )
