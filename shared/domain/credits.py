"""Credit amounts and ledger keys (decisions B8, B19; agents.md §15; platform.md §4).

Every amount the platform pays goes through ``shared.service_layer.credits`` with one of the
event types and idempotency keys below, so a retried award can never pay twice. The numbers
themselves live in ``shared.domain.constants`` (decisions B8).
"""

from __future__ import annotations

from uuid import UUID

from shared.domain.constants import (
    EXPERT_ANSWER_BASE_CREDITS,
    EXPERT_ANSWER_CREDITS_PER_POINT,
    EXPERT_ANSWER_MIN_USEFULNESS,
    INTRO_OPPORTUNITY_DEFAULT_BOUNTY,
    PROSPECT_CONVERSION_CREDITS,
    WARM_INTRO_DEFAULT_BOUNTY,
)

# credit_events.event_type values (agents.md §15)
COMMUNITY_RESPONSE = "community_response"
PROSPECT_CONVERTED = "prospect_converted"
INTRO_COMPLETED = "intro_completed"
INTRO_OFFER_CONFIRMED = "intro_offer_confirmed"
CREDIT_PURCHASE = "credit_purchase"
OPERATOR_GRANT = "operator_grant"
OPERATOR_REVOKE = "operator_revoke"

USEFULNESS_MIN, USEFULNESS_MAX = 1, 10


def expert_answer_credits(usefulness: int) -> int:
    """Credits for an expert's answer: 0 below 7, else 15 + 10 x (score - 7): 15, 25, 35, 45 (B8)."""
    if not USEFULNESS_MIN <= usefulness <= USEFULNESS_MAX:
        raise ValueError(f"usefulness must be {USEFULNESS_MIN}-{USEFULNESS_MAX}, not {usefulness}")
    if usefulness < EXPERT_ANSWER_MIN_USEFULNESS:
        return 0
    return EXPERT_ANSWER_BASE_CREDITS + EXPERT_ANSWER_CREDITS_PER_POINT * (
        usefulness - EXPERT_ANSWER_MIN_USEFULNESS
    )


def prospect_conversion_credits() -> int:
    """Per uploading innovator when their prospect joins (B8)."""
    return PROSPECT_CONVERSION_CREDITS


def intro_opportunity_bounty(bounty_credits: int | None) -> int:
    """The opportunity's own bounty, default 50, to the connector at completion (B8, B20)."""
    return INTRO_OPPORTUNITY_DEFAULT_BOUNTY if bounty_credits is None else bounty_credits


def intro_offer_bounty(warm_intro_bounty: int | None) -> int:
    """The introducee innovator's warm_intro_bounty, default 25, to the connector at confirmation (B8)."""
    return WARM_INTRO_DEFAULT_BOUNTY if warm_intro_bounty is None else warm_intro_bounty


# --- Idempotency keys (platform.md §4.1): one payment per fact -------------------------------------


def community_response_key(response_id: UUID) -> str:
    return f"community_response_{response_id}"


def intro_completed_key(intro_id: UUID, user_id: UUID) -> str:
    return f"intro_completed_{intro_id}_{user_id}"


def intro_offer_confirmed_key(offer_id: UUID, user_id: UUID) -> str:
    return f"intro_offer_confirmed_{offer_id}_{user_id}"


def prospect_converted_key(prospect_id: UUID, user_id: UUID) -> str:
    return f"prospect_converted_{prospect_id}_{user_id}"


def credit_purchase_key(checkout_session_id: str) -> str:
    return f"credit_purchase_{checkout_session_id}"  # decisions B19: the Stripe Checkout Session id


def operator_adjustment_key(adjustment_id: UUID) -> str:
    return f"operator_adjustment_{adjustment_id}"
