"""Agent task helpers (decisions B3, B7), used by agents inside their unit of work (``uow.tasks``).

Every transition of a claimed task is guarded by ``id``, ``claim_token`` and
``status='processing'``: zero rows updated means the claim was lost (the lease expired and the
sweeper requeued it, or a duplicate worker got there first) and raises ``LostLease``. It is
never reported as success.

Creation is deduplicated: a pending or processing task with the same ``dedupe_key`` makes
``create_task`` return ``None``. Without an explicit key the key is
``<task_type>:<user_id>:<context_type>:<context_id>``, so the same pending task is never stacked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.adapters.repositories.dead_letters import DEAD_LETTER_SOURCES, NewDeadLetter
from shared.adapters.repositories.tasks import FailedTask, NewTask, TaskFailure, TaskRetry
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import PRIORITY_RANK, TASK_MAX_RETRIES
from shared.domain.retry import GiveUp, RetryAt, RetryDecision, decide_task_failure
from shared.logs import DEAD_LETTER_RECORDED, get_logger
from shared.routing import TASK_READY_EVENT

log = get_logger(__name__)

__all__ = ["DEAD_LETTER_SOURCES", "FailedTask", "LostLease"]


class LostLease(Exception):
    """The task is no longer held by this claim token; the caller must not act on it."""

    def __init__(self, task_id: UUID, claim_token: UUID | None) -> None:
        super().__init__(f"task {task_id} is not held by claim {claim_token} (lease lost)")
        self.task_id = task_id
        self.claim_token = claim_token


def default_dedupe_key(
    task_type: str, user_id: UUID | None, context_type: str | None, context_id: UUID | None
) -> str:
    return f"{task_type}:{user_id or '-'}:{context_type or '-'}:{context_id or '-'}"


def create_task(
    uow: PostgresUnitOfWork,
    *,
    task_type: str,
    agent_type: str,
    user_id: UUID | None,
    scheduled_for: datetime,
    priority: str,
    context_json: dict[str, Any],
    context_id: UUID | None = None,
    context_type: str | None = None,
    dedupe_key: str | None = None,
    created_by: str,
    max_retries: int = TASK_MAX_RETRIES,
) -> UUID | None:
    """Insert a pending task; ``None`` when the same task is already pending or processing."""
    if priority not in PRIORITY_RANK:
        raise ValueError(f"unknown priority {priority!r}; use one of {', '.join(PRIORITY_RANK)}")
    if scheduled_for.tzinfo is None:
        raise ValueError("scheduled_for must be timezone-aware")
    task_id = uow.tasks.add(
        NewTask(
            task_type=task_type,
            agent_type=agent_type,
            user_id=user_id,
            scheduled_for=scheduled_for,
            priority=priority,
            context_json=context_json,
            context_id=context_id,
            context_type=context_type,
            created_by=created_by,
            dedupe_key=dedupe_key or default_dedupe_key(task_type, user_id, context_type, context_id),
            max_retries=max_retries,
        )
    )
    if task_id is None:
        log.info(
            "task already pending; not stacked",
            extra={"task_type": task_type, "user_id": str(user_id), "dedupe_key": dedupe_key},
        )
    return task_id


def cancel_pending_tasks(
    uow: PostgresUnitOfWork,
    *,
    task_type: str,
    user_id: UUID,
    context_id: UUID | None = None,
    context_type: str | None = None,
    reason: str,
) -> int:
    """Cancel a user's pending tasks of one type (optionally one context); returns how many."""
    return uow.tasks.cancel_pending(
        task_type=task_type, user_id=user_id, context_id=context_id, context_type=context_type, reason=reason
    )


def complete_task(uow: PostgresUnitOfWork, task_id: UUID, claim_token: UUID, result: dict[str, Any]) -> None:
    """Mark a claimed task completed with its result. Raises ``LostLease``."""
    if not uow.tasks.complete(task_id, claim_token, result):
        raise LostLease(task_id, claim_token)


def retry_task(
    uow: PostgresUnitOfWork,
    task_id: UUID,
    claim_token: UUID,
    error: str,
    *,
    consumer: str | None = None,
    now: datetime | None = None,
) -> RetryDecision:
    """A claimed task's attempt failed: back to pending after 1, 2, 4 minutes, or failed after the
    last retry (with a dead letter). Raises ``LostLease``."""
    task = uow.tasks.get_claimed(task_id, claim_token)
    if task is None:
        raise LostLease(task_id, claim_token)
    decision = decide_task_failure(task.retry_count, task.max_retries, now or datetime.now(UTC))
    if isinstance(decision, RetryAt):
        requeue_claimed(uow, [(task_id, claim_token, decision, error)])
    else:
        fail_claimed(
            uow,
            [(task_id, claim_token, f"{error} ({decision.reason})")],
            source="consumer",
            consumer=consumer,
        )
    return decision


def fail_task(
    uow: PostgresUnitOfWork,
    task_id: UUID,
    claim_token: UUID,
    error: str,
    *,
    consumer: str | None = None,
    source: str = "consumer",
    dead_letter: bool = True,
) -> None:
    """Fail a claimed task for good (no retry), recording a dead letter. Raises ``LostLease``."""
    if not fail_claimed(
        uow, [(task_id, claim_token, error)], source=source, consumer=consumer, dead_letter=dead_letter
    ):
        raise LostLease(task_id, claim_token)


def requeue_claimed(uow: PostgresUnitOfWork, items: Sequence[tuple[UUID, UUID, RetryAt, str]]) -> list[UUID]:
    """Requeue claimed tasks ``(id, claim_token, decision, error)``; returns the ids still held."""
    if not items:
        return []
    return uow.tasks.requeue_claimed(
        [
            TaskRetry(
                id=task_id,
                claim_token=token,
                retry_count=at.attempts,
                scheduled_for=at.when,
                error=error[:4000],
            )
            for task_id, token, at, error in items
        ]
    )


def fail_claimed(
    uow: PostgresUnitOfWork,
    items: Sequence[tuple[UUID, UUID, str]],
    *,
    source: str,
    consumer: str | None = None,
    topic: str | None = None,
    dead_letter: bool = True,
) -> list[FailedTask]:
    """Fail claimed tasks ``(id, claim_token, error)`` and dead-letter each; returns the failed tasks."""
    if not items:
        return []
    if source not in DEAD_LETTER_SOURCES:
        raise ValueError(f"unknown dead-letter source {source!r}")
    failed = uow.tasks.fail_claimed(
        [TaskFailure(id=task_id, claim_token=token, error=error[:4000]) for task_id, token, error in items]
    )
    recorded: set[UUID] = set()  # the tasks whose dead letter is new (the alert counts their lines)
    if dead_letter:
        for task in failed:
            if record_task_dead_letter(uow, task, source=source, consumer=consumer, topic=topic) is not None:
                recorded.add(task.id)
    for task in failed:
        log.warning(
            "task failed",
            extra={
                "task_id": str(task.id),
                "task_type": task.task_type,
                "error": task.error,
                DEAD_LETTER_RECORDED: task.id in recorded,
            },
        )
    return failed


def record_task_dead_letter(
    uow: PostgresUnitOfWork,
    task: FailedTask,
    *,
    source: str,
    consumer: str | None,
    topic: str | None,
    error: str | None = None,
    source_message_id: str | None = None,
) -> UUID | None:
    """One ``event_dead_letters`` row for a failed task; replaying it requeues the task."""
    return uow.dead_letters.record(
        NewDeadLetter(
            event_id=task.id,
            event_type=TASK_READY_EVENT,
            payload=task_dead_letter_payload(task),
            error_message=error or task.error or "task failed",
            retry_count=task.retry_count,
            original_created_at=task.created_at,
            source=source,
            topic=topic,
            consumer=consumer,
            source_message_id=source_message_id,
        )
    )


def task_dead_letter_payload(task: FailedTask) -> dict[str, Any]:
    return {
        "kind": "task",
        "task_id": str(task.id),
        "task_type": task.task_type,
        "agent_type": task.agent_type,
        "user_id": task.user_id,
        "context_id": task.context_id,
        "context_type": task.context_type,
        "priority": task.priority,
        "context_json": task.context_json,
    }


@dataclass(frozen=True)
class ExpiredLeaseReport:
    requeued: int
    failed: int


def requeue_expired_leases(
    uow: PostgresUnitOfWork, *, limit: int, now: datetime | None = None
) -> ExpiredLeaseReport:
    """Processing tasks whose lease ran out: an expired lease counts as a failed attempt (B7)."""
    current = now or datetime.now(UTC)
    expired = uow.tasks.lock_expired_leases(limit=limit)
    to_requeue: list[tuple[UUID, UUID, RetryAt, str]] = []
    to_fail: list[tuple[UUID, UUID, str]] = []
    for task in expired:
        decision = decide_task_failure(task.retry_count, task.max_retries, current)
        if isinstance(decision, GiveUp):
            to_fail.append((task.id, task.claim_token, f"lease expired; {decision.reason}"))
        else:
            to_requeue.append((task.id, task.claim_token, decision, "lease expired"))
    requeued = requeue_claimed(uow, to_requeue)
    failed = fail_claimed(uow, to_fail, source="dispatcher", consumer="task_sweeper")
    if expired:
        log.warning("expired task leases handled", extra={"requeued": len(requeued), "failed": len(failed)})
    return ExpiredLeaseReport(requeued=len(requeued), failed=len(failed))
