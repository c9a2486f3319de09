"""What one Concierge or Innovator turn works out once and reuses across its hooks and tools."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.adapters.repositories import CommunityRequest, Priority
from shared.agents.conversation.protocol import Turn


@dataclass(frozen=True)
class MemberContext:
    """agents.md §4.2: the goal, the open priorities, the member's own open community requests."""

    goal: str | None
    goal_type: str | None
    priorities: list[Priority] = field(default_factory=list)
    requests: list[CommunityRequest] = field(default_factory=list)


@dataclass
class ConciergeTurnState:
    agent: str = "concierge"  # the acting agent's key: events' requesting_agent_type
    member: MemberContext | None = None
    invalid_decision: bool = False  # Call 1 did not validate; the safe decision ran
    goal_stored: str | None = None


ConciergeTurn = Turn[ConciergeTurnState]
