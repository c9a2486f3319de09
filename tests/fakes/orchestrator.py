"""The orchestrator's unit of work in memory (unit tests of ``run_tick``).

``InMemoryOrchestratorStore`` holds the data and is the unit-of-work factory ``run_tick`` takes:
each ``store()`` is one transaction that stages its writes and applies them at ``commit``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

from shared.adapters.repositories import ActionRecord, Budget, Conversation, QueueRow, SendProfile, UserLock
from shared.adapters.repositories.messages import OutboundPart, UserText
from shared.domain.constants import PRIORITY_RANK
from shared.service_layer.freshness import NewerMessage
from shared.service_layer.orchestrate import ACTION_SEND_BUDGETED


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
    queue_id: UUID | None
    at: datetime | None = None


@dataclass
class MemAction:
    action_type: str
    user_id: UUID | None
    context_id: UUID | None
    at: datetime
    input_data: dict[str, Any]
    output_data: dict[str, Any]
    error: str | None


@dataclass
class MemUser:
    profile: SendProfile
    inbound: list[NewerMessage] = field(default_factory=list)
    conversation_id: UUID = field(default_factory=uuid4)
    conversations: set[UUID] = field(default_factory=set)


class InMemoryOrchestratorStore:
    """The orchestrator's data in memory; calling it opens a unit of work."""

    def __init__(self) -> None:
        self.users: dict[UUID, MemUser] = {}
        self.queue: dict[UUID, MemQueueRow] = {}
        self.budgets: dict[tuple[UUID, date], Budget] = {}
        self.actions: list[MemAction] = []
        self.outbound: list[MemOutbound] = []
        self.locked_users: set[UUID] = set()

    # arranging --------------------------------------------------------------------------------
    def add_user(self, profile: SendProfile) -> MemUser:
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
        if row.conversation_context_id is not None and row.part.user_id in self.users:
            self.users[row.part.user_id].conversations.add(row.conversation_context_id)

    # the unit-of-work factory -------------------------------------------------------------------
    def __call__(self) -> MemUnitOfWork:
        return MemUnitOfWork(self)


class MemUnitOfWork:
    def __init__(self, store: InMemoryOrchestratorStore) -> None:
        self.store = store
        self.locked: set[UUID] = set()
        self.ops: list[Callable[[], None]] = []
        self.staged_budget: dict[tuple[UUID, date], int] = {}
        self.users = _Users(self)
        self.conversations = _Conversations(self)
        self.messages = _Messages(self)
        self.queue = _Queue(self)
        self.budgets = _Budgets(self)
        self.actions = _Actions(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.ops = []  # rolled back unless committed
        self.store.locked_users -= self.locked

    def commit(self) -> list[UUID]:
        for apply in self.ops:
            apply()
        self.ops = []
        self.staged_budget = {}
        return []


class _Users:
    def __init__(self, uow: MemUnitOfWork) -> None:
        self.uow = uow

    def try_lock(self, user_id: UUID, scope: UserLock) -> bool:
        store = self.uow.store
        if user_id in store.locked_users:
            return False
        store.locked_users.add(user_id)
        self.uow.locked.add(user_id)
        return True

    def send_profile(self, user_id: UUID, now: datetime) -> SendProfile | None:
        user = self.uow.store.users.get(user_id)
        if user is None:
            return None
        past = [m.created_at for m in user.inbound if m.created_at <= now]
        return replace(user.profile, last_inbound_at=max(past) if past else None)


class _Conversations:
    def __init__(self, uow: MemUnitOfWork) -> None:
        self.uow = uow

    def get(self, conversation_id: UUID) -> Conversation | None:
        for user_id, user in self.uow.store.users.items():
            if conversation_id == user.conversation_id or conversation_id in user.conversations:
                return Conversation(conversation_id, user_id, "active", None, None, 0, datetime.min, None)
        return None

    def active_or_open(self, user_id: UUID) -> UUID:
        return self.uow.store.users[user_id].conversation_id


class _Messages:
    def __init__(self, uow: MemUnitOfWork) -> None:
        self.uow = uow

    def user_texts_since(self, user_id: UUID, since: datetime, limit: int) -> list[UserText]:
        newer = sorted(
            (m for m in self.uow.store.users[user_id].inbound if m.created_at > since),
            key=lambda m: m.created_at,
        )
        return [UserText(m.content, m.created_at) for m in newer[:limit]]

    def add_outbound(
        self,
        *,
        conversation_id: UUID,
        user_id: UUID,
        role: str,
        part: OutboundPart,
        message_queue_id: UUID | None,
    ) -> UUID:
        out = MemOutbound(uuid4(), user_id, conversation_id, role, part.content, message_queue_id)
        self.uow.ops.append(lambda: self.uow.store.outbound.append(out))
        return out.id


class _Queue:
    def __init__(self, uow: MemUnitOfWork) -> None:
        self.uow = uow

    def due_users(self, now: datetime, batch: int) -> list[UUID]:
        firsts: dict[UUID, tuple[int, datetime]] = {}
        for q in self.uow.store.queue.values():
            part = q.row.part
            if q.status == "queued" and part.scheduled_for <= now:
                key = (PRIORITY_RANK[part.priority], part.scheduled_for)
                if part.user_id not in firsts or key < firsts[part.user_id]:
                    firsts[part.user_id] = key
        return sorted(firsts, key=lambda u: (*firsts[u], str(u)))[:batch]

    def claim_due_for_user(self, user_id: UUID, now: datetime) -> list[QueueRow]:
        queued = [
            q for q in self.uow.store.queue.values() if q.status == "queued" and q.row.part.user_id == user_id
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

    def reschedule(self, ids: Sequence[UUID], until: datetime) -> None:
        def apply() -> None:
            for q in self._queued(ids):
                q.row = replace(q.row, part=replace(q.row.part, scheduled_for=until))

        self.uow.ops.append(apply)

    def close(self, ids: Sequence[UUID], status: str, reason: str) -> None:
        def apply() -> None:
            for q in self._queued(ids):
                q.status, q.reason = status, reason[:100]

        self.uow.ops.append(apply)

    def mark_sent(self, queue_id: UUID, now: datetime, message_id: UUID, body: str) -> None:
        def apply() -> None:
            for q in self._queued([queue_id]):
                q.status, q.sent_at, q.delivered_message_id = "sent", now, message_id

        self.uow.ops.append(apply)

    def _queued(self, ids: Sequence[UUID]) -> list[MemQueueRow]:
        return [self.uow.store.queue[i] for i in ids if self.uow.store.queue[i].status == "queued"]


class _Budgets:
    def __init__(self, uow: MemUnitOfWork) -> None:
        self.uow = uow

    def for_date(self, user_id: UUID, local_date: date) -> Budget:
        budgets = self.uow.store.budgets
        if (user_id, local_date) in budgets:
            return budgets[(user_id, local_date)]
        rows = sorted((d, b) for (u, d), b in budgets.items() if u == user_id)
        return rows[-1][1] if rows else Budget(date=None)

    def count_send(self, user_id: UUID, local_date: date, now: datetime, limits: Budget) -> int:
        store, key = self.uow.store, (user_id, local_date)

        def apply() -> None:
            old = store.budgets.get(key)
            if old is None:
                store.budgets[key] = replace(limits, date=local_date, messages_sent=1)
            else:
                store.budgets[key] = replace(old, messages_sent=old.messages_sent + 1)

        self.uow.ops.append(apply)
        self.uow.staged_budget[key] = self.uow.staged_budget.get(key, 0) + 1
        current = self.for_date(user_id, local_date)
        already = current.messages_sent if current.date == local_date else 0
        return already + self.uow.staged_budget[key]


class _Actions:
    def __init__(self, uow: MemUnitOfWork) -> None:
        self.uow = uow

    def record(self, action: ActionRecord) -> UUID:
        mem = MemAction(
            action.action_type,
            action.user_id,
            action.context_id,
            action.created_at or datetime.now(UTC),
            action.input_data or {},
            action.output_data or {},
            action.error,
        )
        self.uow.ops.append(lambda: self.uow.store.actions.append(mem))
        return uuid4()

    def budgeted_sends(self, user_id: UUID, since: datetime, now: datetime) -> list[datetime]:
        return sorted(
            a.at
            for a in self.uow.store.actions
            if a.user_id == user_id and a.action_type == ACTION_SEND_BUDGETED and since < a.at <= now
        )
