"""agent_tasks (decisions B3, B7): creation, the sweeper's claim, lease-guarded transitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import json_object, json_param, uuid_of, uuid_or_none


@dataclass(frozen=True)
class NewTask:
    task_type: str
    agent_type: str
    user_id: UUID | None
    scheduled_for: datetime
    priority: str
    context_json: dict[str, Any]
    context_id: UUID | None
    context_type: str | None
    created_by: str
    dedupe_key: str
    max_retries: int


@dataclass(frozen=True)
class Task:
    id: UUID
    task_type: str
    agent_type: str
    user_id: UUID | None
    context_id: UUID | None
    context_type: str | None
    context_json: dict[str, Any]
    priority: str
    status: str
    retry_count: int
    max_retries: int
    scheduled_for: datetime
    claim_token: UUID | None
    lease_expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class ClaimedTask:
    """A task the sweeper just leased, with its user's routing facts."""

    id: UUID
    task_type: str
    agent_type: str
    user_id: UUID | None
    context_id: UUID | None
    context_type: str | None
    context_json: dict[str, Any]
    priority: str
    retry_count: int
    max_retries: int
    scheduled_for: datetime
    claim_token: UUID
    lease_expires_at: datetime
    created_at: datetime
    user_verified: bool | None
    user_poc_agent_type: str | None


@dataclass(frozen=True)
class LeasedTask:
    """A processing task's retry counters, under one claim."""

    id: UUID
    claim_token: UUID
    task_type: str
    agent_type: str
    retry_count: int
    max_retries: int


@dataclass(frozen=True)
class FailedTask:
    """What a failed task's dead letter records."""

    id: UUID
    task_type: str | None
    agent_type: str | None
    user_id: UUID | None
    context_id: UUID | None
    context_type: str | None
    context_json: dict[str, Any]
    priority: str | None
    retry_count: int
    created_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class TaskRetry:
    id: UUID
    claim_token: UUID
    retry_count: int
    scheduled_for: datetime
    error: str


@dataclass(frozen=True)
class TaskFailure:
    id: UUID
    claim_token: UUID
    error: str


def _leased(row: Row) -> LeasedTask:
    return LeasedTask(
        id=uuid_of(row["id"]),
        claim_token=uuid_of(row["claim_token"]),
        task_type=row["task_type"],
        agent_type=row["agent_type"],
        retry_count=row["retry_count"],
        max_retries=row["max_retries"],
    )


class TaskRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(self, task: NewTask) -> UUID | None:
        """Insert a pending task; None when the same dedupe key is pending or processing."""
        row = self._sql.one(
            "tasks_insert",
            task_type=task.task_type,
            agent_type=task.agent_type,
            user_id=task.user_id,
            context_id=task.context_id,
            context_type=task.context_type,
            scheduled_for=task.scheduled_for,
            priority=task.priority,
            context_json=json_param(task.context_json),
            created_by=task.created_by,
            dedupe_key=task.dedupe_key,
            max_retries=task.max_retries,
        )
        return None if row is None else uuid_of(row["id"])

    def cancel_pending(
        self, *, task_type: str, user_id: UUID, context_id: UUID | None, context_type: str | None, reason: str
    ) -> int:
        return self._sql.run(
            "tasks_cancel_pending",
            task_type=task_type,
            user_id=user_id,
            context_id=context_id,
            context_type=context_type,
            reason=reason,
        )

    def cancel_reengagement_for_items(
        self, user_id: UUID, item_ids: Sequence[UUID], *, now: datetime
    ) -> list[UUID]:
        """Cancel the member's pending ``re_engagement_check`` tasks about these items (their context
        id, or an entry of their ``priority_items``); returns the cancelled tasks' ids."""
        rows = self._sql.all(
            "tasks_cancel_reengagement_for_items",
            user_id=user_id,
            item_ids=[str(i) for i in item_ids],
            now=now,
        )
        return [uuid_of(r["id"]) for r in rows]

    def cancel_pending_for_context(self, context_id: UUID, *, task_types: Sequence[str], reason: str) -> int:
        """Cancel every member's pending tasks of these types about one context; returns how many."""
        return self._sql.run(
            "tasks_cancel_pending_for_context",
            context_id=context_id,
            task_types=list(task_types),
            reason=reason,
        )

    def open_for_user(self, user_id: UUID, task_type: str) -> list[Task]:
        """The user's pending or processing tasks of one type, soonest first."""
        rows = self._sql.all("tasks_open_for_user", user_id=user_id, task_type=task_type)
        return [
            Task(
                id=uuid_of(r["id"]),
                task_type=r["task_type"],
                agent_type=r["agent_type"],
                user_id=uuid_or_none(r["user_id"]),
                context_id=uuid_or_none(r["context_id"]),
                context_type=r["context_type"],
                context_json=json_object(r["context_json"]),
                priority=r["priority"],
                status=r["status"],
                retry_count=r["retry_count"],
                max_retries=r["max_retries"],
                scheduled_for=r["scheduled_for"],
                claim_token=uuid_or_none(r["claim_token"]),
                lease_expires_at=r["lease_expires_at"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    def claim_due(self, *, limit: int, lease: Any) -> list[ClaimedTask]:
        """Lease due pending tasks, most urgent first, in one statement (SKIP LOCKED)."""
        rows = self._sql.all("tasks_claim_due", limit=limit, lease=lease)
        return [
            ClaimedTask(
                id=uuid_of(r["id"]),
                task_type=r["task_type"],
                agent_type=r["agent_type"],
                user_id=uuid_or_none(r["user_id"]),
                context_id=uuid_or_none(r["context_id"]),
                context_type=r["context_type"],
                context_json=json_object(r["context_json"]),
                priority=r["priority"],
                retry_count=r["retry_count"],
                max_retries=r["max_retries"],
                scheduled_for=r["scheduled_for"],
                claim_token=uuid_of(r["claim_token"]),
                lease_expires_at=r["lease_expires_at"],
                created_at=r["created_at"],
                user_verified=r["user_verified"],
                user_poc_agent_type=r["user_poc_agent_type"],
            )
            for r in rows
        ]

    def lock_expired_leases(self, *, limit: int) -> list[LeasedTask]:
        return [_leased(r) for r in self._sql.all("tasks_lock_expired_leases", limit=limit)]

    def get_claimed(self, task_id: UUID, claim_token: UUID) -> LeasedTask | None:
        """The task's counters, locked, only while this claim holds it."""
        row = self._sql.one("tasks_get_claimed", task_id=task_id, claim_token=claim_token)
        return None if row is None else _leased({**row, "claim_token": claim_token})

    def requeue_claimed(self, retries: Sequence[TaskRetry]) -> list[UUID]:
        """Back to pending at a time; returns the ids this claim still held."""
        rows = self._sql.all(
            "tasks_requeue_claimed",
            ids=[r.id for r in retries],
            claim_tokens=[r.claim_token for r in retries],
            retry_counts=[r.retry_count for r in retries],
            scheduled_fors=[r.scheduled_for for r in retries],
            errors=[r.error for r in retries],
        )
        return [uuid_of(r["id"]) for r in rows]

    def fail_claimed(self, failures: Sequence[TaskFailure]) -> list[FailedTask]:
        """Failed for good; returns the tasks this claim still held."""
        rows = self._sql.all(
            "tasks_fail_claimed",
            ids=[f.id for f in failures],
            claim_tokens=[f.claim_token for f in failures],
            errors=[f.error for f in failures],
        )
        return [
            FailedTask(
                id=uuid_of(r["id"]),
                task_type=r["task_type"],
                agent_type=r["agent_type"],
                user_id=uuid_or_none(r["user_id"]),
                context_id=uuid_or_none(r["context_id"]),
                context_type=r["context_type"],
                context_json=json_object(r["context_json"]),
                priority=r["priority"],
                retry_count=r["retry_count"],
                created_at=r["created_at"],
                error=r["error"],
            )
            for r in rows
        ]

    def complete(self, task_id: UUID, claim_token: UUID, result: dict[str, Any]) -> bool:
        """Completed with its result; False when the claim was lost."""
        return (
            self._sql.run(
                "tasks_complete", task_id=task_id, claim_token=claim_token, result=json_param(result)
            )
            > 0
        )

    def created_at(self, task_id: UUID) -> datetime | None:
        at: datetime | None = self._sql.scalar("tasks_created_at", task_id=task_id)
        return at

    def requeue_failed(self, task_id: UUID) -> bool:
        """A failed task pending again with fresh retries (a dead letter's replay)."""
        return self._sql.run("tasks_requeue_failed", task_id=task_id) > 0
