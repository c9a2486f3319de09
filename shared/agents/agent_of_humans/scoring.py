"""Scoring an expert's answer: usefulness 1-10 and an impact description (agents.md §8.10).

The model must call ``score_answer``; its arguments are validated by pydantic before anything
uses them. No model, a failed call or invalid arguments give ``None``: the answer stays
unscored and unpaid until an operator scores it (issue 9: no credit without a model score).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pydantic

from shared.adapters.llm import Llm, LlmRequest, LlmUnavailable, ToolSpec
from shared.agents.context import to_api_messages
from shared.agents.llm_config import call_settings
from shared.domain.constants import EXPERT_ANSWER_MIN_USEFULNESS
from shared.logs import get_logger

log = get_logger(__name__)

AGENT = "agent_of_humans"
CALL_KIND = "usefulness_score"
PROMPT_VERSION = "usefulness-v1"
IMPACT_MAX_CHARS = 300

# agents.md §8.10: the wording when the model gives none.
IMPACT_VALUABLE = "Valuable insight that shaped the answer."
IMPACT_CONTEXT = "Helpful context but not actionable."


class AnswerScore(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    usefulness_score: int = pydantic.Field(
        ge=1, le=10, description="1 = no help, 10 = decisive and actionable"
    )
    impact_description: str = pydantic.Field(
        min_length=1,
        max_length=IMPACT_MAX_CHARS,
        description="One sentence, for the expert: how the answer helped the member who asked.",
    )


SCORE_TOOL = ToolSpec(
    name="score_answer",
    description="Record how useful the expert's answer is to the member's question.",
    input_model=AnswerScore,
)

SCORING_PROMPT = """You judge answers that members of Yachtparty, a network of senior professionals, \
give to each other's questions. Score how useful the answer is to the person who asked, from 1 \
to 10: 1-3 off-topic or empty, 4-6 helpful context but not actionable, 7-8 specific and \
actionable, 9-10 decisive: names the approach, the trade-offs or the people to talk to. Judge \
only the text given; do not reward length. Write one plain sentence of impact for the expert, \
without inventing outcomes. Always call score_answer."""


@dataclass(frozen=True)
class Score:
    usefulness: int
    impact_description: str


def default_impact(usefulness: int) -> str:
    return IMPACT_VALUABLE if usefulness >= EXPERT_ANSWER_MIN_USEFULNESS else IMPACT_CONTEXT


def llm_score(
    llm: Llm, *, question: str, answer: str, expert_user_id: UUID, response_id: UUID
) -> Score | None:
    """The model's score, or None (unavailable, no tool call, invalid arguments)."""
    request = LlmRequest(
        agent=AGENT,
        call_kind=CALL_KIND,
        settings=call_settings(AGENT, CALL_KIND),
        prompt_version=PROMPT_VERSION,
        system=SCORING_PROMPT,
        stable_context="",
        dynamic_context="",
        messages=to_api_messages([], trigger_note=f"QUESTION:\n{question}\n\nANSWER:\n{answer}"),
        tools=(SCORE_TOOL,),
        force_tool=SCORE_TOOL.name,
        user_id=expert_user_id,
        context_id=response_id,
        context_type="community_response",
    )
    try:
        response = llm.complete(request)
    except LlmUnavailable as exc:
        log.warning(
            "usefulness scoring unavailable", extra={"reason": exc.reason, "response_id": str(response_id)}
        )
        return None
    call = response.tool_call(SCORE_TOOL.name)
    if call is None or not isinstance(call.arguments, AnswerScore):
        log.warning(
            "usefulness scoring gave no valid score",
            extra={
                "response_id": str(response_id),
                "invalid": [c.error for c in response.invalid_tool_calls],
            },
        )
        return None
    return Score(
        usefulness=call.arguments.usefulness_score, impact_description=call.arguments.impact_description
    )
