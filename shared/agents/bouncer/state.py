"""The Bouncer's typed per-turn state (``Turn[BouncerTurnState]``) and its referral candidates."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared.adapters.repositories import User
from shared.agents.conversation.protocol import Turn
from shared.domain.onboarding import OnboardingState


@dataclass(frozen=True)
class Candidate:
    id: UUID
    first_name: str
    last_name: str
    company: str | None
    score: int

    def describe(self) -> str:
        at = f" at {self.company}" if self.company else ""
        return f"{self.first_name} {self.last_name}{at} ({self.id})"


@dataclass
class BouncerTurnState:
    """What one Bouncer turn works out once and reuses across its hooks and tools."""

    onboarding: OnboardingState | None = None  # the user's onboarding state (refreshed after writes)
    # uow.users.writes when ``onboarding`` was read (0: the context's row, read as the turn's
    # transaction began): a fresh state is read again only when the turn has written the user since.
    onboarding_writes: int = 0
    candidates: list[Candidate] | None = None  # referral candidates offered to Call 1
    closed: bool = False  # close_invite ran: no follow-ups, conversation closed
    invalid_decision: bool = False  # Call 1 did not validate; the safe decision ran
    scenario: str | None = None  # the reply scenario Call 2 was given


BouncerTurn = Turn[BouncerTurnState]


def onboarding_state(user: User, *, declined: bool = False) -> OnboardingState:
    """The onboarding state of a member."""
    return OnboardingState(
        first_name=user.first_name,
        last_name=user.last_name,
        company=user.company,
        title=user.title,
        referrer_known=bool(user.referred_by or user.name_dropped),
        verification_requested=user.verification_requested_at is not None,
        email_verified=user.email_verified,
        onboarding_completed=user.onboarding_completed_at is not None,
        approval_status=user.approval_status,
        declined=declined,
    )
