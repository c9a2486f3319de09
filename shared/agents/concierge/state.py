"""What one Concierge or Innovator turn works out once and reuses across its hooks and tools."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared.adapters.repositories import CommunityRequest, OpenFollowUp, Priority
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.intro_port import IntroPort
from shared.agents.conversation.protocol import Turn


@dataclass(frozen=True)
class MemberContext:
    """agents.md §4.2: the goal, the open priorities, the member's own open community requests."""

    goal: str | None
    goal_type: str | None
    priorities: list[Priority] = field(default_factory=list)
    requests: list[CommunityRequest] = field(default_factory=list)
    follow_up: OpenFollowUp | None = None  # a research follow-up question asked of them, unanswered

    @property
    def last_presented(self) -> Priority | None:
        """The open item presented to the member most recently (what a bare "yes" answers)."""
        shown = [p for p in self.priorities if p.last_presented_at is not None]
        return max(shown, key=lambda p: p.last_presented_at or datetime.min) if shown else None

    @property
    def last_presented_request(self) -> Priority | None:
        """agents.md §4.2/§4.6: the community request presented last, when that is the last item shown."""
        last = self.last_presented
        return last if last is not None and last.item_type == "community_request" else None

    @property
    def last_presented_follow_up(self) -> OpenFollowUp | None:
        """The open follow-up question, when it went out after every item presented (what a reply answers)."""
        follow_up, last = self.follow_up, self.last_presented
        if follow_up is None:
            return None
        if (
            last is not None
            and last.last_presented_at is not None
            and last.last_presented_at > follow_up.sent_at
        ):
            return None
        return follow_up


class CommunityPort(Protocol):
    """The Community service's public use cases (``shared.service_layer.community``), handed in by the
    service layer: an agent never imports upward. Both run in the turn's unit of work."""

    def reply(
        self, uow: PostgresUnitOfWork, *, request_id: UUID, expert_user_id: UUID, text: str, now: datetime
    ) -> Mapping[str, Any]: ...

    def cancel(self, uow: PostgresUnitOfWork, *, request_id: UUID, user_id: UUID, now: datetime) -> str: ...


class SagaPort(Protocol):
    """The Solution Saga's use case for an expert's answer to its follow-up question
    (``shared.service_layer.solution_saga.record_follow_up_answer``), handed in by the service layer;
    it runs in the turn's unit of work."""

    def record_follow_up_answer(
        self, uow: PostgresUnitOfWork, *, workflow_id: UUID, expert_user_id: UUID, answer: str, now: datetime
    ) -> Mapping[str, Any]: ...


@dataclass
class ConciergeTurnState:
    agent: str = "concierge"  # the acting agent's key: events' requesting_agent_type
    member: MemberContext | None = None
    invalid_decision: bool = False  # Call 1 did not validate; the safe decision ran
    goal_stored: str | None = None
    community: CommunityPort | None = None  # None: the community tools answer "not available"
    intros: IntroPort | None = (
        None  # the intro services (issue 12); None: the intro tools answer "not available"
    )
    saga: SagaPort | None = None  # the Solution Saga; None: record_follow_up_answer is "not available"


ConciergeTurn = Turn[ConciergeTurnState]
