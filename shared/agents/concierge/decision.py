"""Call 1's output and the tools' arguments (agents.md §4.3, §4.4).

The decision names tools by name with their parameters; the framework validates each call
against the tool's own argument model before it runs. No argument model has a field for a
user id: every tool acts for the member whose turn it is (issue 16, "Bad input"). Unknown keys
are refused (``extra='forbid'``), so a smuggled ``user_id`` makes that tool call invalid and it
never runs.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.adapters.llm import ToolSpec
from shared.domain.constants import CONCIERGE_TEXT_MAX_CHARS, CONNECTION_REQUEST_MAX_OFFER_CREDITS

Scenario = Literal[
    "single_topic_response",
    "response_with_proactive_priority",
    "multi_thread_response",
    "priority_opportunity",
    "solution_update",
    "community_request_followup",
    "request_clarification",
    "no_message",
    "general_response",
    "intro_progress_report",
]
SCENARIOS: tuple[str, ...] = Scenario.__args__  # type: ignore[attr-defined]

Text = Field(min_length=1, max_length=CONCIERGE_TEXT_MAX_CHARS)
Short = Field(default=None, min_length=1, max_length=255)
LongText = Field(default=None, min_length=1, max_length=CONCIERGE_TEXT_MAX_CHARS)
Urgency = Literal["low", "medium", "high"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- Call 1 -----------------------------------------------------------------------------------


class ToolRequest(_Strict):
    tool_name: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class RespondingTo(_Strict):
    """Intent-to-priority matching (§4.4 step 5): only an item the member explicitly addressed."""

    item_type: str = Field(max_length=50)
    item_id: UUID
    confidence: Literal["high", "medium", "low"]


class Interpretation(_Strict):
    label: str = Field(max_length=80)
    description: str = Field(max_length=300)
    tool: str | None = Field(default=None, max_length=64)


class Clarification(_Strict):
    ambiguous_request: str = Field(max_length=300)
    interpretations: list[Interpretation] = Field(min_length=2, max_length=4)


class PostClarification(_Strict):
    had_recent_clarification: bool = False
    frustration_detected: bool = False
    should_acknowledge_confusion: bool = False


class ProactivePriority(_Strict):
    item_type: str = Field(max_length=50)
    item_id: UUID
    summary: str = Field(max_length=300)
    transition_phrase: str = Field(default="While I have you", max_length=80)
    should_mention: bool = False
    reason: str = Field(default="", max_length=300)


class PersonalizationHooks(_Strict):
    user_name: str | None = Field(default=None, max_length=100)
    recent_context: str | None = Field(default=None, max_length=300)
    emotional_state: Literal["eager", "patient", "frustrated", "overwhelmed"] | None = None
    specific_person_name: str | None = Field(default=None, max_length=100)


class ContextForCall2(_Strict):
    primary_topic: str = Field(default="", max_length=200)
    primary_response_guidance: str = Field(default="", max_length=800)
    tone: Literal["helpful", "informative", "reassuring", "opportunistic"] = "helpful"
    message_structure: Literal["single", "sequence_2", "sequence_3"] = "single"
    personalization_hooks: PersonalizationHooks | None = None


class ConciergeDecision(_Strict):
    """What the member's messages mean and what the agent does next (agents.md §4.4 output shape)."""

    tools_to_execute: list[ToolRequest] = Field(default_factory=list, max_length=4)
    next_scenario: Scenario
    user_responding_to: RespondingTo | None = None
    proactive_priority: ProactivePriority | None = None
    clarification_needed: Clarification | None = None
    post_clarification_context: PostClarification | None = None
    # §4.6: the new messages answer the community request presented to the member last (the check
    # against LAST PRESENTED COMMUNITY REQUEST); code records the answer against that request.
    answers_presented_request: bool = False
    context_for_call_2: ContextForCall2 = Field(default_factory=ContextForCall2)


MAKE_DECISION = ToolSpec(
    name="make_decision",
    description=(
        "Record what the member's messages mean, which tools to run (by name, with their params), "
        "and the scenario for the reply. Called exactly once per turn."
    ),
    input_model=ConciergeDecision,
)


# --- Tool arguments ------------------------------------------------------------------------------


class CommunityRequestArgs(_Strict):
    question: str = Text
    expertise_needed: list[str] = Field(min_length=1, max_length=8)
    category: str | None = Short
    requester_context: str | None = Field(default=None, max_length=CONCIERGE_TEXT_MAX_CHARS)
    desired_outcome: Literal["backchannel", "introduction", "quick_thoughts", "ongoing_advice"] | None = None
    urgency: Urgency = "medium"
    request_summary: str | None = Field(default=None, min_length=1, max_length=100)


class ResearchArgs(_Strict):
    request_description: str = Text
    category: str | None = Short
    urgency: Urgency = "medium"


class GoalArgs(_Strict):
    goal_description: str = Text
    goal_type: Literal["career", "business_growth", "learning", "networking"] | None = None


class CancelRequestArgs(_Strict):
    """Cancel one of the member's own open community requests: by id, or by what it was about."""

    request_id: UUID | None = None
    about: str | None = Field(default=None, min_length=2, max_length=200)


class InnovatorProfileArgs(_Strict):
    solution_name: str | None = Short
    solution_description: str | None = Field(default=None, min_length=1, max_length=CONCIERGE_TEXT_MAX_CHARS)
    target_customer_profile: str | None = Field(
        default=None, min_length=1, max_length=CONCIERGE_TEXT_MAX_CHARS
    )
    pricing_model: str | None = Field(default=None, min_length=1, max_length=500)
    differentiation: str | None = Field(default=None, min_length=1, max_length=CONCIERGE_TEXT_MAX_CHARS)


class CreditFundingArgs(_Strict):
    amount: int = Field(gt=0, le=100_000)


class NoArguments(_Strict):
    """A tool without parameters."""


# --- The intro flows and the expert's side (agents.md §4.3.3-§4.3.8, §5 tool 5, §12) ----------------

Reason = Field(default=None, min_length=1, max_length=500)


class OfferIntroArgs(_Strict):
    """offer_introduction: the member volunteers to introduce someone they know ("I can intro you to X").

    ``context_type``/``context_id`` name what it answers: a community request that reached the member, or
    a connection request addressed to them ("not me, but I can introduce you to Jim"). Without one it is
    spontaneous, stored as a nomination (no introducee yet).
    """

    prospect_name: str = Field(min_length=1, max_length=255)
    target_context: str = Field(min_length=1, max_length=CONCIERGE_TEXT_MAX_CHARS)
    context_type: Literal["community_request", "connection_request", "spontaneous"] = "spontaneous"
    context_id: UUID | None = None
    prospect_company: str | None = Short
    prospect_title: str | None = Short
    reason: str | None = Reason


class IntroOpportunityArgs(_Strict):
    intro_opportunity_id: UUID
    reason: str | None = Reason


class ConnectionRequestArgs(_Strict):
    connection_request_id: UUID
    reason: str | None = Reason


class IntroOfferArgs(_Strict):
    intro_offer_id: UUID
    reason: str | None = Reason


class IntroOutcomeArgs(_Strict):
    """record_intro_outcome: the member's answer to the +7-day "did you two meet?" (decisions B20)."""

    met: bool
    reason: str | None = Reason


class CommunityResponseArgs(_Strict):
    """record_community_response: the member's answer to a community request that reached them."""

    request_id: UUID
    response_text: str = Text


class FollowUpAnswerArgs(_Strict):
    """record_follow_up_answer: the member's answer to a research follow-up question asked of them."""

    workflow_id: UUID
    answer_text: str = Text


class RequestConnectionArgs(_Strict):
    """request_connection (Innovator): meet an existing member; ``offer_credits`` is a bounty paid on
    completion (decisions B20), never charged here."""

    target_user_id: UUID
    intro_context: str = Text
    offer_credits: int = Field(default=0, ge=0, le=CONNECTION_REQUEST_MAX_OFFER_CREDITS)
