"""Typed repositories over the named queries, one per aggregate, each on one ``Sql`` (the unit of
work's transaction). A method runs one named query and returns frozen dataclasses (or None, a
bool, an id, or a list of them): services never read raw rows.

``PostgresUnitOfWork`` exposes them as ``uow.users``, ``uow.conversations``, ``uow.messages``,
``uow.actions``, ``uow.tasks``, ``uow.queue``, ``uow.budgets``, ``uow.events``,
``uow.deliveries``, ``uow.dead_letters``, ``uow.turns`` (agent_turns), ``uow.instances``
(agent_instances), ``uow.innovators``, ``uow.intro_offers``, ``uow.priorities`` (with the
Account Manager's watermark), ``uow.priority_sources`` (the rows priorities are built from),
``uow.community_requests`` (with their requesters, asks and review items),
``uow.community_responses``, ``uow.credits`` (the credit ledger),
``uow.solution_workflows`` (the Solution Saga's state), ``uow.ops`` (read models
across aggregates) and ``uow.retention`` (archive-then-delete batches).
"""

from shared.adapters.repositories.actions import ActionRecord, ActionRepository
from shared.adapters.repositories.agent_instances import AgentInstanceRepository
from shared.adapters.repositories.agent_turns import AgentTurnRepository, TurnRecord
from shared.adapters.repositories.budgets import Budget, BudgetRepository
from shared.adapters.repositories.community_requests import CommunityRequest, CommunityRequestRepository
from shared.adapters.repositories.community_responses import CommunityResponseRepository
from shared.adapters.repositories.conversations import Conversation, ConversationRepository
from shared.adapters.repositories.credits import CreditLedgerRepository, LedgerEntry
from shared.adapters.repositories.dead_letters import DeadLetterRepository, NewDeadLetter
from shared.adapters.repositories.deliveries import DeliveryRepository
from shared.adapters.repositories.events import EventRepository
from shared.adapters.repositories.messages import HistoryItem, InboundMessage, MessageRepository
from shared.adapters.repositories.offers import InnovatorRepository, IntroOfferRepository, NewNomination
from shared.adapters.repositories.ops import OpsRepository
from shared.adapters.repositories.priorities import (
    ManagedMember,
    MemberPriority,
    Priority,
    PriorityRepository,
    RankedPriority,
)
from shared.adapters.repositories.priority_sources import PrioritySourceRepository
from shared.adapters.repositories.queue import QueueRepository, QueueRow
from shared.adapters.repositories.retention import RetentionRepository
from shared.adapters.repositories.solution_workflows import OpenFollowUp, SolutionWorkflowRepository, Workflow
from shared.adapters.repositories.tasks import TaskRepository
from shared.adapters.repositories.users import SendProfile, User, UserLock, UserRepository

__all__ = [
    "ActionRecord",
    "ActionRepository",
    "AgentInstanceRepository",
    "AgentTurnRepository",
    "Budget",
    "BudgetRepository",
    "CommunityRequest",
    "CommunityRequestRepository",
    "CommunityResponseRepository",
    "Conversation",
    "ConversationRepository",
    "CreditLedgerRepository",
    "DeadLetterRepository",
    "DeliveryRepository",
    "EventRepository",
    "HistoryItem",
    "InboundMessage",
    "InnovatorRepository",
    "IntroOfferRepository",
    "LedgerEntry",
    "ManagedMember",
    "MemberPriority",
    "MessageRepository",
    "NewDeadLetter",
    "NewNomination",
    "OpenFollowUp",
    "OpsRepository",
    "Priority",
    "PriorityRepository",
    "PrioritySourceRepository",
    "QueueRepository",
    "QueueRow",
    "RankedPriority",
    "RetentionRepository",
    "SendProfile",
    "SolutionWorkflowRepository",
    "TaskRepository",
    "TurnRecord",
    "User",
    "UserLock",
    "UserRepository",
    "Workflow",
]
