"""The task sweeper's use case: requeue expired leases, claim due tasks, publish them.

1. Expired leases (the worker died or overran): requeued with B7 retry accounting, or failed.
2. Claim: one statement picks due pending tasks urgent > high > medium > low, then
   ``scheduled_for``, with ``FOR UPDATE SKIP LOCKED`` (concurrent sweepers never share a task),
   flips them to ``processing`` with a fresh claim token and a lease longer than the function
   timeout, and commits. The claim is durable before anything is published.
3. Publish ``agent.task_ready`` to the owning agent's topic (ordering key = user id for ordered
   consumers), attributes ``kind=task``, ``task_id``, ``task_type``, ``claim_token``, ``attempt``.
   A publish failure counts as a failed attempt (requeued with backoff, or failed); no route
   fails the task with a dead letter at once.

A crash between commit and publish leaves the task leased; its lease expires and step 1
requeues it, so nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.adapters.pubsub import OutboundMessage, Publisher
from shared.adapters.repositories.tasks import ClaimedTask
from shared.adapters.tasks import fail_claimed, requeue_claimed, requeue_expired_leases
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import DISPATCH_MAX_BATCHES_PER_RUN, TASK_LEASE, TASK_SWEEP_BATCH
from shared.domain.retry import RetryAt, decide_task_failure
from shared.logs import get_logger
from shared.routing import TASK_READY_EVENT, Consumer, NoRoute, route_task

log = get_logger(__name__)


@dataclass
class SweepReport:
    claimed: int = 0
    published: int = 0
    requeued_after_publish_failure: int = 0
    failed: int = 0
    leases_requeued: int = 0
    leases_failed: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def task_message(task: ClaimedTask, consumer: Consumer) -> OutboundMessage:
    user_id = str(task.user_id) if task.user_id else ""
    body: dict[str, Any] = {
        "event_type": TASK_READY_EVENT,
        "task_id": str(task.id),
        "task_type": task.task_type,
        "agent_type": task.agent_type,
        "user_id": user_id or None,
        "context_id": task.context_id,
        "context_type": task.context_type,
        "context_json": task.context_json,
        "priority": task.priority,
        "retry_count": task.retry_count,
        "max_retries": task.max_retries,
        "scheduled_for": task.scheduled_for,
        "claim_token": str(task.claim_token),
        "lease_expires_at": task.lease_expires_at,
    }
    attributes = {
        "kind": "task",
        "task_id": str(task.id),
        "task_type": task.task_type,
        "claim_token": str(task.claim_token),
        "attempt": str(task.retry_count + 1),
    }
    if user_id:
        attributes["user_id"] = user_id
    return OutboundMessage(
        topic=consumer.topic,
        data=json.dumps(body, default=str).encode(),
        attributes=attributes,
        ordering_key=user_id if consumer.ordered else "",
    )


def sweep_tasks(
    publisher: Publisher,
    *,
    batch_size: int = TASK_SWEEP_BATCH,
    max_batches: int = DISPATCH_MAX_BATCHES_PER_RUN,
    uow_factory: Callable[[], PostgresUnitOfWork] = PostgresUnitOfWork,
) -> SweepReport:
    report = SweepReport()
    with uow_factory() as uow:
        leases = requeue_expired_leases(uow, limit=batch_size)
        uow.commit()
    report.leases_requeued, report.leases_failed = leases.requeued, leases.failed

    for _ in range(max_batches):
        with uow_factory() as uow:
            claimed = uow.tasks.claim_due(limit=batch_size, lease=TASK_LEASE)
            uow.commit()
        if not claimed:
            break
        report.batches += 1
        report.claimed += len(claimed)
        _publish_claimed(publisher, claimed, report, uow_factory)
        if len(claimed) < batch_size:
            break
    if report.claimed or report.leases_requeued or report.leases_failed:
        log.info("task sweep done", extra=report.as_dict())
    return report


def _publish_claimed(
    publisher: Publisher,
    claimed: list[ClaimedTask],
    report: SweepReport,
    uow_factory: Callable[[], PostgresUnitOfWork],
) -> None:
    messages: list[OutboundMessage] = []
    sent: list[tuple[ClaimedTask, Consumer]] = []
    unroutable: list[tuple[UUID, UUID, str]] = []
    for task in claimed:
        try:
            consumer = route_task(
                task.agent_type, task.task_type, task.user_verified, task.user_poc_agent_type
            )
        except NoRoute as exc:
            unroutable.append((task.id, task.claim_token, f"no route: {exc}"))
            continue
        messages.append(task_message(task, consumer))
        sent.append((task, consumer))

    outcomes = publisher.publish_all(messages) if messages else []
    now = datetime.now(UTC)
    to_requeue: list[tuple[UUID, UUID, RetryAt, str]] = []
    to_fail = list(unroutable)
    for (task, _consumer), outcome in zip(sent, outcomes, strict=True):
        if outcome.ok:
            report.published += 1
            continue
        decision = decide_task_failure(task.retry_count, task.max_retries, now)
        error = f"publish failed: {outcome.error}"
        if isinstance(decision, RetryAt):
            to_requeue.append((task.id, task.claim_token, decision, error))
        else:
            to_fail.append((task.id, task.claim_token, f"{error} ({decision.reason})"))
    if not to_requeue and not to_fail:
        return
    with uow_factory() as uow:
        report.requeued_after_publish_failure += len(requeue_claimed(uow, to_requeue))
        report.failed += len(fail_claimed(uow, to_fail, source="dispatcher", consumer="task_sweeper"))
        uow.commit()
