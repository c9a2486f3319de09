"""Storage behind the message orchestrator: Postgres (named queries) and an in-memory fake.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any, Protocol
from uuid import UUID, uuid4

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


# ---------------------------------------------------------------------------------------------
# In memory (unit tests)
# ---------------------------------------------------------------------------------------------


@dataclass
class MemQueueRow:
    row: QueueRow
    status: str = "queued"
    reason: str | None = None
    sent_at: datetime | None = None
    delivered_message_id: UUID | None = None


@dataclass
class MemOutbound:
    id: UUID
    user_id: UUID
    conversation_id: UUID
    role: str
    body: str
    queue_id: UUID
    at: datetime | None = None


@dataclass
class MemAction:
    action_type: str
    user_id: UUID
    context_id: UUID | None
    at: datetime
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    error: str | None


@dataclass
class MemUser:
    profile: UserProfile
    inbound: list[NewerMessage] = field(default_factory=list)
    conversation_id: UUID = field(default_factory=uuid4)


class InMemoryOrchestratorStore:
    """The same contract in memory. Sessions stage their writes and apply them at commit."""

    def __init__(self) -> None:
        self.users: dict[UUID, MemUser] = {}
        self.queue: dict[UUID, MemQueueRow] = {}
        self.budgets: dict[tuple[UUID, date], BudgetRow] = {}
        self.actions: list[MemAction] = []
        self.outbound: list[MemOutbound] = []
        self.locked_users: set[UUID] = set()

    # arranging --------------------------------------------------------------------------------
    def add_user(self, profile: UserProfile) -> MemUser:
        self.users[profile.id] = MemUser(profile)
        return self.users[profile.id]

    def add_inbound(self, user_id: UUID, content: str, at: datetime) -> None:
        user = self.users[user_id]
        user.inbound.append(NewerMessage(content, at))
        last = user.profile.last_inbound_at
        if last is None or at > last:
            user.profile = replace(user.profile, last_inbound_at=at)

    def add_row(self, row: QueueRow) -> None:
        self.queue[row.part.id] = MemQueueRow(row)

    # the contract -------------------------------------------------------------------------------
    def due_users(self, now: datetime, batch: int) -> list[UUID]:
        firsts: dict[UUID, tuple[int, datetime]] = {}
        for q in self.queue.values():
            part = q.row.part
            if q.status == "queued" and part.scheduled_for <= now:
                key = (PRIORITY_RANK[part.priority], part.scheduled_for)
                if part.user_id not in firsts or key < firsts[part.user_id]:
                    firsts[part.user_id] = key
        return sorted(firsts, key=lambda u: (*firsts[u], str(u)))[:batch]

    @contextmanager
    def session(self) -> Iterator[OrchestratorSession]:
        session = _MemSession(self)
        try:
            yield session
        finally:
            self.locked_users -= session.locked


class _MemSession:
    def __init__(self, store: InMemoryOrchestratorStore) -> None:
        self.store = store
        self.locked: set[UUID] = set()
        self._ops: list[Callable[[], None]] = []
        self._staged_budget: dict[tuple[UUID, date], int] = {}

    def try_lock_user(self, user_id: UUID) -> bool:
        if user_id in self.store.locked_users:
            return False
        self.store.locked_users.add(user_id)
        self.locked.add(user_id)
        return True

    def profile(self, user_id: UUID, now: datetime) -> UserProfile | None:
        user = self.store.users.get(user_id)
        if user is None:
            return None
        past = [m.created_at for m in user.inbound if m.created_at <= now]
        return replace(user.profile, last_inbound_at=max(past) if past else None)

    def budget(self, user_id: UUID, local_date: date) -> BudgetRow:
        if (user_id, local_date) in self.store.budgets:
            return self.store.budgets[(user_id, local_date)]
        rows = sorted((d, b) for (u, d), b in self.store.budgets.items() if u == user_id)
        return rows[-1][1] if rows else BudgetRow(date=None)

    def budgeted_sends(self, user_id: UUID, since: datetime, now: datetime) -> list[datetime]:
        return sorted(
            a.at
            for a in self.store.actions
            if a.user_id == user_id and a.action_type == ACTION_SEND_BUDGETED and since < a.at <= now
        )

    def claim_due_rows(self, user_id: UUID, now: datetime) -> list[QueueRow]:
        queued = [
            q for q in self.store.queue.values() if q.status == "queued" and q.row.part.user_id == user_id
        ]
        due_sequences = {q.row.part.sequence_id for q in queued if q.row.part.scheduled_for <= now}
        rows = [
            q.row
            for q in queued
            if q.row.part.scheduled_for <= now or (q.row.part.sequence_id in due_sequences - {None})
        ]
        return sorted(
            rows,
            key=lambda r: (
                PRIORITY_RANK[r.part.priority],
                r.part.scheduled_for,
                str(r.part.sequence_id),
                r.part.sequence_position or 0,
            ),
        )

    def newer_user_messages(self, user_id: UUID, since: datetime, limit: int) -> list[NewerMessage]:
        newer = sorted(
            (m for m in self.store.users[user_id].inbound if m.created_at > since), key=lambda m: m.created_at
        )
        return newer[:limit]

    def reschedule(self, ids: Sequence[UUID], until: datetime) -> None:
        def apply() -> None:
            for q in self._queued(ids):
                q.row = replace(q.row, part=replace(q.row.part, scheduled_for=until))

        self._ops.append(apply)

    def close(self, ids: Sequence[UUID], status: str, reason: str) -> None:
        def apply() -> None:
            for q in self._queued(ids):
                q.status, q.reason = status, reason[:100]

        self._ops.append(apply)

    def conversation_for(self, user_id: UUID, conversation_context_id: UUID | None) -> UUID:
        return conversation_context_id or self.store.users[user_id].conversation_id

    def write_outbound(
        self, user_id: UUID, conversation_id: UUID, role: str, bodies: list[str], queue_id: UUID
    ) -> list[UUID]:
        out = [MemOutbound(uuid4(), user_id, conversation_id, role, b, queue_id) for b in bodies if b.strip()]
        self._ops.append(lambda: self.store.outbound.extend(out))
        return [o.id for o in out]

    def mark_sent(self, queue_id: UUID, now: datetime, message_id: UUID, body: str) -> None:
        def apply() -> None:
            for q in self._queued([queue_id]):
                q.status, q.sent_at, q.delivered_message_id = "sent", now, message_id

        self._ops.append(apply)

    def count_budgeted_send(self, user_id: UUID, local_date: date, now: datetime, limits: BudgetRow) -> int:
        def apply() -> None:
            old = self.store.budgets.get((user_id, local_date))
            if old is None:
                self.store.budgets[(user_id, local_date)] = replace(limits, date=local_date, messages_sent=1)
            else:
                self.store.budgets[(user_id, local_date)] = replace(old, messages_sent=old.messages_sent + 1)

        self._ops.append(apply)
        self._staged_budget[(user_id, local_date)] = self._staged_budget.get((user_id, local_date), 0) + 1
        current = self.budget(user_id, local_date)
        already = current.messages_sent if current.date == local_date else 0
        return already + self._staged_budget[(user_id, local_date)]

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
        action = MemAction(action_type, user_id, context_id, now, input_data, output_data, error)
        self._ops.append(lambda: self.store.actions.append(action))

    def commit(self) -> None:
        for apply in self._ops:
            apply()
        self._ops = []
        self._staged_budget = {}

    def _queued(self, ids: Sequence[UUID]) -> list[MemQueueRow]:
        return [self.store.queue[i] for i in ids if self.store.queue[i].status == "queued"]
