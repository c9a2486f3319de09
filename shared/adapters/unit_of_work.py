"""The unit of work: one database transaction that commits state and outbox rows together.

It rolls back unless ``commit()`` is called. Events emitted with ``emit()`` are written to
the ``events`` table inside the same transaction at commit, so follow-up work is never lost
when a function dies after committing (decisions A4).

Data is reached through the typed repositories on the unit of work (``uow.users``,
``uow.conversations``, ``uow.messages``, ``uow.queue``, ``uow.tasks``, ``uow.events``,
``uow.actions`` ...; see ``shared/adapters/repositories``), all on the one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from shared.adapters.postgres import Connection, Sql, get_pool
from shared.adapters.repositories import (
    ActionRepository,
    AgentInstanceRepository,
    AgentTurnRepository,
    BudgetRepository,
    CommunityRequestRepository,
    CommunityResponseRepository,
    ConversationRepository,
    CreditLedgerRepository,
    DeadLetterRepository,
    DeliveryRepository,
    EventRepository,
    InnovatorRepository,
    IntroOfferRepository,
    MessageRepository,
    OpsRepository,
    PriorityRepository,
    PrioritySourceRepository,
    QueueRepository,
    RetentionRepository,
    SolutionWorkflowRepository,
    TaskRepository,
    UserRepository,
)
from shared.adapters.repositories.commerce import CreditPurchaseRepository, ProspectUploadRepository
from shared.adapters.repositories.re_engagement import ReEngagementRepository
from shared.domain.events import Event


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def emit(self, event: Event) -> None: ...

    def commit(self) -> list[UUID]: ...


class PostgresUnitOfWork:
    """A pooled connection in one transaction, and the repositories working in it.

    ``sql`` (raw named queries returning rows) stays for code not yet moved to repositories.
    """

    sql: Sql
    users: UserRepository
    conversations: ConversationRepository
    messages: MessageRepository
    actions: ActionRepository
    tasks: TaskRepository
    queue: QueueRepository
    budgets: BudgetRepository
    events: EventRepository
    deliveries: DeliveryRepository
    dead_letters: DeadLetterRepository
    turns: AgentTurnRepository
    instances: AgentInstanceRepository
    innovators: InnovatorRepository
    intro_offers: IntroOfferRepository
    priorities: PriorityRepository
    priority_sources: PrioritySourceRepository
    community_requests: CommunityRequestRepository
    community_responses: CommunityResponseRepository
    credits: CreditLedgerRepository
    solution_workflows: SolutionWorkflowRepository
    ops: OpsRepository
    re_engagement: ReEngagementRepository
    prospect_uploads: ProspectUploadRepository
    credit_purchases: CreditPurchaseRepository
    retention: RetentionRepository

    def __init__(self, conn: Connection | None = None) -> None:
        self._given = conn
        self._pending: list[Event] = []
        self._committed = False

    def __enter__(self) -> Self:
        if self._given is not None:
            self._conn = self._given
            self._ctx = None
        else:
            self._ctx = get_pool().connection()
            self._conn = self._ctx.__enter__()
        self._conn.autocommit = False
        self.sql = self._make_sql(self._conn)
        self.users = UserRepository(self.sql)
        self.conversations = ConversationRepository(self.sql)
        self.messages = MessageRepository(self.sql)
        self.actions = ActionRepository(self.sql)
        self.tasks = TaskRepository(self.sql)
        self.queue = QueueRepository(self.sql)
        self.budgets = BudgetRepository(self.sql)
        self.events = EventRepository(self.sql)
        self.deliveries = DeliveryRepository(self.sql)
        self.dead_letters = DeadLetterRepository(self.sql)
        self.turns = AgentTurnRepository(self.sql)
        self.instances = AgentInstanceRepository(self.sql)
        self.innovators = InnovatorRepository(self.sql)
        self.intro_offers = IntroOfferRepository(self.sql)
        self.priorities = PriorityRepository(self.sql)
        self.priority_sources = PrioritySourceRepository(self.sql)
        self.community_requests = CommunityRequestRepository(self.sql)
        self.community_responses = CommunityResponseRepository(self.sql)
        self.credits = CreditLedgerRepository(self.sql)
        self.solution_workflows = SolutionWorkflowRepository(self.sql)
        self.ops = OpsRepository(self.sql)
        self.re_engagement = ReEngagementRepository(self.sql)
        self.prospect_uploads = ProspectUploadRepository(self.sql)
        self.credit_purchases = CreditPurchaseRepository(self.sql)
        self.retention = RetentionRepository(self.sql)
        self._pending = []
        self._committed = False
        return self

    def _make_sql(self, conn: Connection) -> Sql:
        """The query runner every repository of this unit of work shares (a benchmark times it)."""
        return Sql(conn)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                self._conn.rollback()
        finally:
            if self._ctx is not None:
                self._ctx.__exit__(exc_type, exc, tb)

    def emit(self, event: Event) -> None:
        self._pending.append(event)

    def commit(self) -> list[UUID]:
        ids = [self._write_event(event) for event in self._pending]
        self._conn.commit()
        self._pending = []
        self._committed = True
        return ids

    def rollback(self) -> None:
        self._pending = []
        self._conn.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception inside undoes only what was done inside."""
        with self._conn.transaction():
            yield

    def _write_event(self, event: Event) -> UUID:
        return self.events.add(event)
