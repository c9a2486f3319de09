"""The event dispatcher's use case: the ``events`` outbox to Pub/Sub (decisions A3, A4, B6).

Per batch, in ONE transaction:

1. claim unprocessed, due events (oldest first) with ``FOR UPDATE SKIP LOCKED``, together with
   the user facts that pick the point-of-contact agent;
2. route each event (``shared.routing.route_event``):
   - a consumer: publish (batched, ordering key = user id for ordered consumers, attributes
     ``kind=event``, ``event_id``, ``event_type``, ``attempt``), wait for every future;
   - ``Route.RECORD_ONLY``: mark processed deliberately, metadata says why;
   - ``NoRoute``: dead letter at once with the routing error, marked processed (never silently);
3. mark the published ones processed; failed publishes get ``attempts+1``, ``last_error`` and a
   backoff ``next_attempt_at``, and after ``EVENT_MAX_PUBLISH_ATTEMPTS`` they are dead-lettered;
4. commit.

A crash after publishing but before the commit rolls everything back: the events stay
unprocessed, the next run publishes them again, and the consumers' idempotency marks
(``shared/service_layer/consumer.py``) drop the duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.adapters.pubsub import OutboundMessage, Publisher
from shared.adapters.repositories.dead_letters import NewDeadLetter
from shared.adapters.repositories.events import ClaimedEvent, GivenUp, Published, PublishRetry
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import DISPATCH_MAX_BATCHES_PER_RUN, EVENT_DISPATCH_BATCH
from shared.domain.retry import GiveUp, decide_event_publish_failure
from shared.logs import DEAD_LETTER_RECORDED, get_logger
from shared.routing import Consumer, NoRoute, route_event

log = get_logger(__name__)

RECORD_ONLY_REASON = "record-only event type: no consumer by design (shared.routing.EVENT_ROUTES)"


@dataclass
class DispatchReport:
    claimed: int = 0
    published: int = 0
    record_only: int = 0
    retrying: int = 0
    dead_lettered: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class _Dead:
    """An event to dead-letter, and where it was going (if anywhere)."""

    event: ClaimedEvent
    error: str
    attempts: int
    topic: str | None
    consumer: str | None


def event_message(event: ClaimedEvent, consumer: Consumer) -> OutboundMessage:
    user_id = str(event.user_id) if event.user_id else ""
    body: dict[str, Any] = {
        "event_id": str(event.id),
        "event_type": event.event_type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "payload": event.payload,
        "metadata": event.metadata,
        "created_at": event.created_at,
        "created_by": event.created_by,
        "user_id": user_id or None,
    }
    attributes = {
        "kind": "event",
        "event_id": str(event.id),
        "event_type": event.event_type,
        "attempt": str(event.attempts + 1),
    }
    if user_id:
        attributes["user_id"] = user_id
    return OutboundMessage(
        topic=consumer.topic,
        data=json.dumps(body, default=str).encode(),
        attributes=attributes,
        ordering_key=user_id if consumer.ordered else "",
    )


def dispatch_batch(
    uow: PostgresUnitOfWork, events: list[ClaimedEvent], publisher: Publisher, report: DispatchReport
) -> None:
    """Route, publish and record the outcome of one claimed batch (inside the claim's transaction)."""
    messages: list[OutboundMessage] = []
    routed: list[tuple[ClaimedEvent, Consumer]] = []
    record_only: list[UUID] = []
    dead: list[_Dead] = []
    for event in events:
        verified = event.user_verified if event.user_id else None
        try:
            consumer = route_event(event.event_type, verified, event.user_poc_agent_type)
        except NoRoute as exc:
            dead.append(_Dead(event, f"no route: {exc}", event.attempts, None, None))
            continue
        if consumer is None:
            record_only.append(event.id)
            continue
        messages.append(event_message(event, consumer))
        routed.append((event, consumer))

    outcomes = publisher.publish_all(messages) if messages else []
    now = datetime.now(UTC)
    published: list[Published] = []
    retry: list[PublishRetry] = []
    for (event, consumer), outcome in zip(routed, outcomes, strict=True):
        if outcome.ok:
            published.append(Published(event.id, consumer.topic, outcome.message_id or ""))
            continue
        error = f"publish to {consumer.topic} failed: {outcome.error}"
        decision = decide_event_publish_failure(event.attempts, now)
        if isinstance(decision, GiveUp):
            dead.append(
                _Dead(
                    event,
                    f"{error} ({decision.reason})",
                    decision.attempts,
                    consumer.topic,
                    consumer.function,
                )
            )
        else:
            retry.append(PublishRetry(event.id, decision.attempts, error[:4000], decision.when))

    _record_outcomes(uow, published, record_only, retry, dead)
    report.published += len(published)
    report.record_only += len(record_only)
    report.retrying += len(retry)
    report.dead_lettered += len(dead)


def _record_outcomes(
    uow: PostgresUnitOfWork,
    published: list[Published],
    record_only: list[UUID],
    retry: list[PublishRetry],
    dead: list[_Dead],
) -> None:
    if published:
        uow.events.mark_published(published)
    if record_only:
        uow.events.mark_record_only(record_only, reason=RECORD_ONLY_REASON)
    if retry:
        uow.events.reschedule(retry)
        for r in retry:
            log.warning(
                "event publish failed; will retry",
                extra={
                    "event_id": str(r.event_id),
                    "attempts": r.attempts,
                    "error": r.error,
                    "next_attempt_at": r.next_attempt_at.isoformat(),
                },
            )
    if dead:
        _dead_letter(uow, dead)


def _dead_letter(uow: PostgresUnitOfWork, dead: list[_Dead]) -> None:
    """Mark the events processed as dead-lettered and record a dead letter (source 'dispatcher') each."""
    where = {d.event.id: d for d in dead}
    recorded: set[UUID] = set()
    for event in uow.events.mark_dead_lettered(
        [GivenUp(d.event.id, d.attempts, d.error[:4000]) for d in dead]
    ):
        letter = uow.dead_letters.record(
            NewDeadLetter(
                event_id=event.id,
                event_type=event.event_type,
                payload=event.payload,
                error_message=event.error,
                retry_count=event.attempts,
                original_created_at=event.created_at,
                source="dispatcher",
                topic=where[event.id].topic,
                consumer=where[event.id].consumer,
            )
        )
        if letter is not None:
            recorded.add(event.id)
    for d in dead:
        log.error(
            "event dead-lettered",
            extra={
                "event_id": str(d.event.id),
                "event_type": d.event.event_type,
                "error": d.error,
                DEAD_LETTER_RECORDED: d.event.id in recorded,
            },
        )


def dispatch_events(
    publisher: Publisher,
    *,
    batch_size: int = EVENT_DISPATCH_BATCH,
    max_batches: int = DISPATCH_MAX_BATCHES_PER_RUN,
    uow_factory: Callable[[], PostgresUnitOfWork] = PostgresUnitOfWork,
) -> DispatchReport:
    """Drain due events, batch by batch, until none are left or ``max_batches`` ran."""
    report = DispatchReport()
    for _ in range(max_batches):
        with uow_factory() as uow:
            events = uow.events.claim_due(limit=batch_size)
            if not events:
                break
            report.batches += 1
            report.claimed += len(events)
            dispatch_batch(uow, events, publisher, report)
            uow.commit()
        if len(events) < batch_size:
            break
    if report.claimed:
        log.info("event dispatch done", extra=report.as_dict())
    return report
