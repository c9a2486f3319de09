"""Typed repositories over the named queries, one per aggregate, each on one ``Sql`` (the unit of
work's transaction). A method runs one named query and returns frozen dataclasses (or None, a
bool, an id, or a list of them): services never read raw rows.

``PostgresUnitOfWork`` exposes them as ``uow.users``, ``uow.conversations``, ``uow.messages``,
``uow.actions``, ``uow.tasks``, ``uow.queue``, ``uow.budgets``, ``uow.events``,
``uow.deliveries``, ``uow.dead_letters`` and ``uow.ops`` (read models across aggregates).
"""

from shared.adapters.repositories.actions import ActionRecord, ActionRepository
from shared.adapters.repositories.budgets import Budget, BudgetRepository
from shared.adapters.repositories.conversations import Conversation, ConversationRepository
from shared.adapters.repositories.dead_letters import DeadLetterRepository, NewDeadLetter
from shared.adapters.repositories.deliveries import DeliveryRepository
from shared.adapters.repositories.events import EventRepository
from shared.adapters.repositories.messages import MessageRepository
from shared.adapters.repositories.ops import OpsRepository
from shared.adapters.repositories.queue import QueueRepository, QueueRow
from shared.adapters.repositories.tasks import TaskRepository
from shared.adapters.repositories.users import SendProfile, User, UserLock, UserRepository

__all__ = [
    "ActionRecord",
    "ActionRepository",
    "Budget",
    "BudgetRepository",
    "Conversation",
    "ConversationRepository",
    "DeadLetterRepository",
    "DeliveryRepository",
    "EventRepository",
    "MessageRepository",
    "NewDeadLetter",
    "OpsRepository",
    "QueueRepository",
    "QueueRow",
    "SendProfile",
    "TaskRepository",
    "User",
    "UserLock",
    "UserRepository",
]
