"""Storage behind the message orchestrator: Postgres (named queries). The in-memory double
for unit tests is ``tests/fakes/orchestrator_store.py``.

The orchestrator works user by user, one transaction each (``OrchestratorStore.session``):
it locks the user against concurrent ticks, locks the user's due queued rows
(``FOR UPDATE SKIP LOCKED``), decides, writes outbound messages, the budget row and the send
ledger, and commits all of it together.

The rolling hour is counted from the send ledger: one ``agent_actions_log`` row per send unit
(``proactive_send_budgeted`` or ``proactive_send_exempt``), written in the same transaction as
the outbound messages, the queue-row update and the ``user_message_budget`` increment. The
daily count is ``user_message_budget.messages_sent`` for the user's local date; both move
together, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Protocol
from uuid import UUID

from shared.adapters.postgres import Connection, Sql, pooled_connection
from shared.domain.constants import DAILY_PROACTIVE_LIMIT, HOURLY_PROACTIVE_LIMIT, PRIORITY_RANK
from shared.domain.phone import guess_timezone
from shared.domain.send_policy import QueuedPart
from shared.service_layer.freshness import NewerMessage
from shared.service_layer.outbound import add_outbound_messages

PRIORITY_ORDER = sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__)
ACTION_SEND_BUDGETED = "proactive_send_budgeted"
ACTION_SEND_EXEMPT = "proactive_send_exempt"


@dataclass(frozen=True)
class UserProfile:
    id: UUID
    timezone: str | None
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    opted_out: bool
    verified: bool
    poc_agent_type: str
    last_inbound_at: datetime | None


@dataclass(frozen=True)
class BudgetRow:
    date: date | None  # None: the user has no budget row yet (defaults apply)
    messages_sent: int = 0
    daily_limit: int = DAILY_PROACTIVE_LIMIT
    hourly_limit: int = HOURLY_PROACTIVE_LIMIT
    quiet_hours_enabled: bool = True


@dataclass(frozen=True)
class QueueRow:
    part: QueuedPart
    agent_id: str
    message_data: dict[str, Any]
    final_message: str | None
    conversation_context_id: UUID | None


class OrchestratorSession(Protocol):
    """One user's transaction. Nothing is visible to others until ``commit``."""

    def try_lock_user(self, user_id: UUID) -> bool: ...
    def profile(self, user_id: UUID, now: datetime) -> UserProfile | None: ...
    def budget(self, user_id: UUID, local_date: date) -> BudgetRow: ...
    def budgeted_sends(self, user_id: UUID, since: datetime, now: datetime) -> list[datetime]: ...
    def claim_due_rows(self, user_id: UUID, now: datetime) -> list[QueueRow]: ...
    def newer_user_messages(self, user_id: UUID, since: datetime, limit: int) -> list[NewerMessage]: ...
    def reschedule(self, ids: Sequence[UUID], until: datetime) -> None: ...
    def close(self, ids: Sequence[UUID], status: str, reason: str) -> None: ...
    def conversation_for(self, user_id: UUID, conversation_context_id: UUID | None) -> UUID: ...
    def write_outbound(
        self, user_id: UUID, conversation_id: UUID, role: str, bodies: list[str], queue_id: UUID
    ) -> list[UUID]: ...
    def mark_sent(self, queue_id: UUID, now: datetime, message_id: UUID, body: str) -> None: ...
    def count_budgeted_send(
        self, user_id: UUID, local_date: date, now: datetime, limits: BudgetRow
    ) -> int: ...
    def log_action(
        self,
        action_type: str,
        *,
        user_id: UUID,
        context_id: UUID | None,
        now: datetime,
        input_data: dict[str, Any],
        output_data: dict[str, Any],
        error: str | None = None,
    ) -> None: ...
    def commit(self) -> None: ...


class OrchestratorStore(Protocol):
    def due_users(self, now: datetime, batch: int) -> list[UUID]: ...
    def session(self) -> AbstractContextManager[OrchestratorSession]: ...


# ---------------------------------------------------------------------------------------------
# Postgres
# ---------------------------------------------------------------------------------------------


def _uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(str(value))


class PostgresOrchestratorSession:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.sql = Sql(conn)

    def try_lock_user(self, user_id: UUID) -> bool:
        return bool(self.sql.scalar("orchestrator_try_lock_user", user_id=user_id))

    def profile(self, user_id: UUID, now: datetime) -> UserProfile | None:
        row = self.sql.one("orchestrator_user_profile", user_id=user_id, now=now)
        if row is None:
            return None
        tz = row["timezone"] or guess_timezone(row["phone_number"])
        return UserProfile(
            id=UUID(str(row["id"])),
            timezone=tz,
            quiet_hours_start=row["quiet_hours_start"],
            quiet_hours_end=row["quiet_hours_end"],
            opted_out=bool(row["opted_out"]),
            verified=bool(row["verified"]),
            poc_agent_type=row["poc_agent_type"],
            last_inbound_at=row["last_inbound_at"],
        )

    def budget(self, user_id: UUID, local_date: date) -> BudgetRow:
        row = self.sql.one("orchestrator_budget_row", user_id=user_id, date=local_date)
        if row is None:
            return BudgetRow(date=None)
        return BudgetRow(
            date=row["date"],
            messages_sent=row["messages_sent"],
            daily_limit=row["daily_limit"],
            hourly_limit=row["hourly_limit"],
            quiet_hours_enabled=row["quiet_hours_enabled"],
        )

    def budgeted_sends(self, user_id: UUID, since: datetime, now: datetime) -> list[datetime]:
        rows = self.sql.all("orchestrator_recent_budgeted_sends", user_id=user_id, since=since, now=now)
        return [r["created_at"] for r in rows]

    def claim_due_rows(self, user_id: UUID, now: datetime) -> list[QueueRow]:
        rows = self.sql.all(
            "orchestrator_claim_user_rows", user_id=user_id, now=now, priority_order=PRIORITY_ORDER
        )
        return [
            QueueRow(
                part=QueuedPart(
                    id=UUID(str(r["id"])),
                    user_id=UUID(str(r["user_id"])),
                    priority=r["priority"],
                    scheduled_for=r["scheduled_for"],
                    created_at=r["created_at"],
                    sequence_id=_uuid(r["sequence_id"]),
                    sequence_position=r["sequence_position"],
                    sequence_total=r["sequence_total"],
                    requires_fresh_context=bool(r["requires_fresh_context"]),
                ),
                agent_id=r["agent_id"],
                message_data=r["message_data"] if isinstance(r["message_data"], dict) else {},
                final_message=r["final_message"],
                conversation_context_id=_uuid(r["conversation_context_id"]),
            )
            for r in rows
        ]

    def newer_user_messages(self, user_id: UUID, since: datetime, limit: int) -> list[NewerMessage]:
        rows = self.sql.all("orchestrator_newer_user_messages", user_id=user_id, since=since, limit=limit)
        return [NewerMessage(content=r["content"], created_at=r["created_at"]) for r in rows]

    def reschedule(self, ids: Sequence[UUID], until: datetime) -> None:
        self.sql.run("orchestrator_reschedule_rows", ids=list(ids), until=until)

    def close(self, ids: Sequence[UUID], status: str, reason: str) -> None:
        self.sql.run("orchestrator_close_rows", ids=list(ids), status=status, reason=reason)

    def conversation_for(self, user_id: UUID, conversation_context_id: UUID | None) -> UUID:
        if conversation_context_id is not None:
            found = self.sql.scalar(
                "orchestrator_user_conversation", user_id=user_id, conversation_id=conversation_context_id
            )
            if found is not None:
                return UUID(str(found))
        active = self.sql.scalar("orchestrator_active_conversation", user_id=user_id)
        if active is None:
            active = self.sql.scalar("orchestrator_open_conversation", user_id=user_id)
        if active is None:  # opened concurrently by someone else
            active = self.sql.scalar("orchestrator_active_conversation", user_id=user_id)
        return UUID(str(active))

    def write_outbound(
        self, user_id: UUID, conversation_id: UUID, role: str, bodies: list[str], queue_id: UUID
    ) -> list[UUID]:
        return add_outbound_messages(
            self.sql,
            user_id=user_id,
            conversation_id=conversation_id,
            role=role,
            bodies=bodies,
            message_queue_id=queue_id,
        )

    def mark_sent(self, queue_id: UUID, now: datetime, message_id: UUID, body: str) -> None:
        self.sql.run("orchestrator_mark_sent", id=queue_id, now=now, message_id=message_id, body=body)

    def count_budgeted_send(self, user_id: UUID, local_date: date, now: datetime, limits: BudgetRow) -> int:
        return int(
            self.sql.scalar(
                "orchestrator_count_budgeted_send",
                user_id=user_id,
                date=local_date,
                now=now,
                daily_limit=limits.daily_limit,
                hourly_limit=limits.hourly_limit,
                quiet_hours_enabled=limits.quiet_hours_enabled,
            )
        )

    def log_action(
        self,
        action_type: str,
        *,
        user_id: UUID,
        context_id: UUID | None,
        now: datetime,
        input_data: dict[str, Any],
        output_data: dict[str, Any],
        error: str | None = None,
    ) -> None:
        self.sql.one(
            "orchestrator_log_action",
            action_type=action_type,
            user_id=user_id,
            context_id=context_id,
            now=now,
            input_data=json.dumps(input_data, default=str),
            output_data=json.dumps(output_data, default=str),
            error=error,
        )

    def commit(self) -> None:
        self._conn.commit()


class PostgresOrchestratorStore:
    """Pooled connections (``DATABASE_URL``); each session is one transaction."""

    def due_users(self, now: datetime, batch: int) -> list[UUID]:
        with pooled_connection() as conn:
            rows = Sql(conn).all(
                "orchestrator_due_users", now=now, batch=batch, priority_order=PRIORITY_ORDER
            )
            conn.rollback()
        return [UUID(str(r["user_id"])) for r in rows]

    @contextmanager
    def session(self) -> Iterator[OrchestratorSession]:
        with pooled_connection() as conn:
            conn.autocommit = False
            try:
                yield PostgresOrchestratorSession(conn)
            finally:
                conn.rollback()  # no-op after commit; undoes everything otherwise
