"""message_queue: proactive messages waiting for the orchestrator (platform §1, decisions B1-B3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_object, json_param, uuid_of, uuid_or_none
from shared.domain.constants import PRIORITY_RANK
from shared.domain.send_policy import QueuedPart

PRIORITY_ORDER = sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__)


@dataclass(frozen=True)
class QueueRow:
    part: QueuedPart
    agent_id: str
    message_data: dict[str, Any]
    final_message: str | None
    conversation_context_id: UUID | None


@dataclass(frozen=True)
class NewQueuedPart:
    """One row to queue: a ready text (``final_message``) or data to render later."""

    user_id: UUID
    agent_id: str
    message_data: dict[str, Any]
    final_message: str | None
    scheduled_for: datetime
    priority: str
    conversation_context_id: UUID | None
    requires_fresh_context: bool
    can_delay: bool
    sequence_id: UUID | None
    sequence_position: int | None
    sequence_total: int | None


class QueueRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(self, part: NewQueuedPart, *, now: datetime) -> UUID:
        row = self._sql.one(
            "queue_insert",
            user_id=part.user_id,
            agent_id=part.agent_id,
            message_data=json_param(part.message_data),
            final_message=part.final_message,
            scheduled_for=part.scheduled_for,
            priority=part.priority,
            conversation_context_id=part.conversation_context_id,
            requires_fresh_context=part.requires_fresh_context,
            can_delay=part.can_delay,
            sequence_id=part.sequence_id,
            sequence_position=part.sequence_position,
            sequence_total=part.sequence_total,
            now=now,
        )
        assert row is not None
        return uuid_of(row["id"])

    def cancel(self, *, user_id: UUID, queue_id: UUID, reason: str) -> int:
        """Cancel a queued message (its whole sequence); returns the rows cancelled."""
        return len(self._sql.all("queue_cancel", user_id=user_id, id=queue_id, reason=reason))

    def supersede_for_agent(self, *, user_id: UUID, agent_id: str, kind: str, reason: str) -> int:
        """An agent's queued messages of one ``message_data.kind`` are stale: superseded; returns how many."""
        return self._sql.run(
            "queue_supersede_for_agent", user_id=user_id, agent_id=agent_id, kind=kind, reason=reason
        )

    def next_due_for_user(self, user_id: UUID) -> datetime | None:
        """When the user's next queued row is due; None when nothing is queued."""
        at: datetime | None = self._sql.scalar("queue_next_due_for_user", user_id=user_id)
        return at

    def due_users(self, now: datetime, batch: int) -> list[UUID]:
        """Users with due rows, the most urgent, oldest due row first."""
        rows = self._sql.all("queue_due_users", now=now, batch=batch, priority_order=PRIORITY_ORDER)
        return [uuid_of(r["user_id"]) for r in rows]

    def claim_due_for_user(self, user_id: UUID, now: datetime) -> list[QueueRow]:
        """Lock the user's due rows (whole sequences included; SKIP LOCKED), most urgent first."""
        rows = self._sql.all(
            "queue_claim_due_for_user", user_id=user_id, now=now, priority_order=PRIORITY_ORDER
        )
        return [
            QueueRow(
                part=QueuedPart(
                    id=uuid_of(r["id"]),
                    user_id=uuid_of(r["user_id"]),
                    priority=r["priority"],
                    scheduled_for=r["scheduled_for"],
                    created_at=r["created_at"],
                    sequence_id=uuid_or_none(r["sequence_id"]),
                    sequence_position=r["sequence_position"],
                    sequence_total=r["sequence_total"],
                    requires_fresh_context=bool(r["requires_fresh_context"]),
                ),
                agent_id=r["agent_id"],
                message_data=json_object(r["message_data"]),
                final_message=r["final_message"],
                conversation_context_id=uuid_or_none(r["conversation_context_id"]),
            )
            for r in rows
        ]

    def reschedule(self, ids: Sequence[UUID], until: datetime) -> None:
        self._sql.run("queue_reschedule", ids=list(ids), until=until)

    def close(self, ids: Sequence[UUID], status: str, reason: str) -> None:
        """End queued rows unsent: 'cancelled', 'superseded' or 'failed'."""
        self._sql.run("queue_close", ids=list(ids), status=status, reason=reason)

    def mark_sent(self, queue_id: UUID, now: datetime, message_id: UUID, body: str) -> None:
        self._sql.run("queue_mark_sent", id=queue_id, now=now, message_id=message_id, body=body)
