"""The orchestrator's storage contract (``OrchestratorStore``) in memory.

Sessions stage their writes and apply them at commit, like the Postgres store's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from shared.adapters.orchestrator_store import (
    ACTION_SEND_BUDGETED,
    BudgetRow,
    OrchestratorSession,
    QueueRow,
    UserProfile,
)
from shared.domain.constants import PRIORITY_RANK
from shared.service_layer.freshness import NewerMessage


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
