"""Agent task helpers (decisions B3, B7), used by agents inside their unit of work.

Every transition of a claimed task is guarded by ``id``, ``claim_token`` and
``status='processing'``: zero rows updated means the claim was lost (the lease expired and the
sweeper requeued it, or a duplicate worker got there first) and raises ``LostLease``. It is
never reported as success.

Creation is deduplicated: a pending or processing task with the same ``dedupe_key`` makes
``create_task`` return ``None``. Without an explicit key the key is
``<task_type>:<user_id>:<context_type>:<context_id>``, so the same pending task is never stacked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.domain.constants import PRIORITY_RANK, TASK_MAX_RETRIES
from shared.domain.retry import GiveUp, RetryAt, RetryDecision, decide_task_failure
from shared.logs import get_logger
from shared.routing import TASK_READY_EVENT

log = get_logger(__name__)

DEAD_LETTER_SOURCES = ("dispatcher", "pubsub", "consumer")


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
    sql: Sql,
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
    row = sql.one(
        "insert_task",
        task_type=task_type,
        agent_type=agent_type,
        user_id=user_id,
        context_id=context_id,
        context_type=context_type,
        scheduled_for=scheduled_for,
        priority=priority,
        context_json=json.dumps(context_json, default=str),
        created_by=created_by,
        dedupe_key=dedupe_key or default_dedupe_key(task_type, user_id, context_type, context_id),
        max_retries=max_retries,
    )
    if row is None:
        log.info(
            "task already pending; not stacked",
            extra={"task_type": task_type, "user_id": str(user_id), "dedupe_key": dedupe_key},
        )
        return None
    return UUID(str(row["id"]))


def cancel_pending_tasks(
    sql: Sql,
    *,
    task_type: str,
    user_id: UUID,
    context_id: UUID | None = None,
    context_type: str | None = None,
    reason: str,
) -> int:
    """Cancel a user's pending tasks of one type (optionally one context); returns how many."""
    return sql.run(
        "cancel_pending_tasks",
        task_type=task_type,
        user_id=user_id,
        context_id=context_id,
        context_type=context_type,
        reason=reason,
    )


def complete_task(sql: Sql, task_id: UUID, claim_token: UUID, result: dict[str, Any]) -> None:
    """Mark a claimed task completed with its result. Raises ``LostLease``."""
    updated = sql.run(
        "complete_task",
        task_id=task_id,
        claim_token=claim_token,
        result=json.dumps(result, default=str),
    )
    if updated == 0:
        raise LostLease(task_id, claim_token)


def retry_task(
    sql: Sql,
    task_id: UUID,
    claim_token: UUID,
    error: str,
    *,
    consumer: str | None = None,
    now: datetime | None = None,
) -> RetryDecision:
    """A claimed task's attempt failed: back to pending after 1, 2, 4 minutes, or failed after the
    last retry (with a dead letter). Raises ``LostLease``."""
    row = sql.one("get_claimed_task", task_id=task_id, claim_token=claim_token)
    if row is None:
        raise LostLease(task_id, claim_token)
    decision = decide_task_failure(row["retry_count"], row["max_retries"], now or datetime.now(UTC))
    if isinstance(decision, RetryAt):
        requeue_claimed(sql, [(task_id, claim_token, decision, error)])
    else:
        fail_claimed(
            sql,
            [(task_id, claim_token, f"{error} ({decision.reason})")],
            source="consumer",
            consumer=consumer,
        )
    return decision


def fail_task(
    sql: Sql,
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
        sql, [(task_id, claim_token, error)], source=source, consumer=consumer, dead_letter=dead_letter
    ):
        raise LostLease(task_id, claim_token)


def requeue_claimed(sql: Sql, items: Sequence[tuple[UUID, UUID, RetryAt, str]]) -> list[UUID]:
    """Requeue claimed tasks ``(id, claim_token, decision, error)``; returns the ids still held."""
    if not items:
        return []
    rows = sql.all(
        "requeue_claimed_tasks",
        ids=[i[0] for i in items],
        claim_tokens=[i[1] for i in items],
        retry_counts=[i[2].attempts for i in items],
        scheduled_fors=[i[2].when for i in items],
        errors=[i[3][:4000] for i in items],
    )
    return [UUID(str(r["id"])) for r in rows]


def fail_claimed(
    sql: Sql,
    items: Sequence[tuple[UUID, UUID, str]],
    *,
    source: str,
    consumer: str | None = None,
    topic: str | None = None,
    dead_letter: bool = True,
) -> list[Row]:
    """Fail claimed tasks ``(id, claim_token, error)`` and dead-letter each; returns the failed rows."""
    if not items:
        return []
    if source not in DEAD_LETTER_SOURCES:
        raise ValueError(f"unknown dead-letter source {source!r}")
    rows = sql.all(
        "fail_claimed_tasks",
        ids=[i[0] for i in items],
        claim_tokens=[i[1] for i in items],
        errors=[i[2][:4000] for i in items],
    )
    if dead_letter:
        for row in rows:
            record_task_dead_letter(sql, row, source=source, consumer=consumer, topic=topic)
    for row in rows:
        log.warning(
            "task failed",
            extra={"task_id": str(row["id"]), "task_type": row["task_type"], "error": row["error"]},
        )
    return rows


def record_task_dead_letter(
    sql: Sql,
    task: Row,
    *,
    source: str,
    consumer: str | None,
    topic: str | None,
    error: str | None = None,
    source_message_id: str | None = None,
) -> UUID | None:
    """One ``event_dead_letters`` row for a failed task; replaying it requeues the task."""
    payload = task_dead_letter_payload(task)
    row = sql.one(
        "record_dead_letter",
        event_id=task["id"],
        event_type=TASK_READY_EVENT,
        payload=json.dumps(payload, default=str),
        error_message=(error or task.get("error") or "task failed")[:4000],
        retry_count=task.get("retry_count") or 0,
        original_created_at=task.get("created_at"),
        source=source,
        topic=topic,
        consumer=consumer,
        source_message_id=source_message_id,
    )
    return None if row is None else UUID(str(row["id"]))


def task_dead_letter_payload(task: Row) -> dict[str, Any]:
    return {
        "kind": "task",
        "task_id": str(task["id"]),
        **{
            key: task.get(key)
            for key in (
                "task_type",
                "agent_type",
                "user_id",
                "context_id",
                "context_type",
                "priority",
                "context_json",
            )
        },
    }


@dataclass(frozen=True)
class ExpiredLeaseReport:
    requeued: int
    failed: int


def requeue_expired_leases(sql: Sql, *, limit: int, now: datetime | None = None) -> ExpiredLeaseReport:
    """Processing tasks whose lease ran out: an expired lease counts as a failed attempt (B7)."""
    current = now or datetime.now(UTC)
    rows = sql.all("lock_expired_leases", limit=limit)
    to_requeue: list[tuple[UUID, UUID, RetryAt, str]] = []
    to_fail: list[tuple[UUID, UUID, str]] = []
    for row in rows:
        decision = decide_task_failure(row["retry_count"], row["max_retries"], current)
        if isinstance(decision, GiveUp):
            to_fail.append((row["id"], row["claim_token"], f"lease expired; {decision.reason}"))
        else:
            to_requeue.append((row["id"], row["claim_token"], decision, "lease expired"))
    requeued = requeue_claimed(sql, to_requeue)
    failed = fail_claimed(sql, to_fail, source="dispatcher", consumer="task_sweeper")
    if rows:
        log.warning("expired task leases handled", extra={"requeued": len(requeued), "failed": len(failed)})
    return ExpiredLeaseReport(requeued=len(requeued), failed=len(failed))
