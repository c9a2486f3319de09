"""The Solution Saga's model calls (agents.md §9): web research and the three decision points.

- ``web_research``: Anthropic's server-side web search tool (decisions A11). The API runs the
  searches; we keep the results it returned (URL, title, the sentences it cited).
- ``evaluate_initial`` (decision point 1): ``hasValueToShare``, ``findings``, ``reasoning``.
- ``process_expert_response`` (decision point 2): ``addedValue``, ``needsFollowUp`` and the exact
  ``followUpQuestion``, ``hasContactIntro`` and the contact, ``shouldUpdateUser``.
- ``final_evaluation``: the final recommendations.

Each decision is a forced tool call validated by pydantic. Any failure (no model, unavailable,
no valid call) returns None and the caller uses the offline brain (``fallback``). Every option
a decision names is checked against the workflow's stored sources before anything reaches the
member (``grounding``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import pydantic

from shared.adapters.llm import (
    Llm,
    LlmRequest,
    LlmUnavailable,
    ToolSpec,
    WebCitation,
    WebResult,
    web_search_tool,
)
from shared.agents.context import to_api_messages
from shared.agents.llm_config import call_settings
from shared.logs import get_logger

log = get_logger(__name__)

AGENT = "solution_saga"
PROMPT_VERSION = "solution-saga-v1"
CONTEXT_TYPE = "solution_workflow"

WEB_RESEARCH = "web_research"
EVALUATE_INITIAL = "evaluate_initial"
PROCESS_EXPERT_RESPONSE = "process_expert_response"
FINAL_EVALUATION = "final_evaluation"

TEXT_MAX = 600
NAME_MAX = 120


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", populate_by_name=True)


class Option(_Model):
    name: str = pydantic.Field(
        min_length=1, max_length=NAME_MAX, description="Vendor or product, as the source names it"
    )
    url: str | None = pydantic.Field(
        default=None, max_length=500, description="Only a URL from the sources given"
    )
    reason: str = pydantic.Field(
        min_length=1, max_length=300, description="One line: why it fits this member"
    )
    source: Literal["web", "innovator", "expert"] = pydantic.Field(description="Where the option comes from")


class Findings(_Model):
    summary: str = pydantic.Field(min_length=1, max_length=TEXT_MAX)
    options: list[Option] = pydantic.Field(default_factory=list, max_length=6)
    next_steps: str = pydantic.Field(default="", max_length=300, alias="nextSteps")
    narrowing_question: str | None = pydantic.Field(
        default=None, max_length=200, alias="narrowingQuestion", description="One question, e.g. budget"
    )


class InitialEvaluation(_Model):
    has_value_to_share: bool = pydantic.Field(alias="hasValueToShare")
    findings: Findings
    reasoning: str = pydantic.Field(min_length=1, max_length=TEXT_MAX)


class ExpertAssessment(_Model):
    added_value: bool = pydantic.Field(alias="addedValue")
    needs_follow_up: bool = pydantic.Field(alias="needsFollowUp")
    follow_up_question: str | None = pydantic.Field(default=None, max_length=300, alias="followUpQuestion")
    has_contact_intro: bool = pydantic.Field(alias="hasContactIntro")
    contact_info: str | None = pydantic.Field(default=None, max_length=300, alias="contactInfo")
    should_update_user: bool = pydantic.Field(alias="shouldUpdateUser")
    mentioned_vendors: list[str] = pydantic.Field(
        default_factory=list, max_length=10, alias="mentionedVendors"
    )
    reasoning: str = pydantic.Field(min_length=1, max_length=TEXT_MAX)


class FinalRecommendations(_Model):
    summary: str = pydantic.Field(min_length=1, max_length=TEXT_MAX)
    options: list[Option] = pydantic.Field(default_factory=list, max_length=6)
    frequently_mentioned: list[str] = pydantic.Field(
        default_factory=list, max_length=6, alias="frequentlyMentioned"
    )
    narrowing_question: str | None = pydantic.Field(default=None, max_length=200, alias="narrowingQuestion")
    reasoning: str = pydantic.Field(min_length=1, max_length=TEXT_MAX)


INITIAL_TOOL = ToolSpec(
    "record_initial_evaluation", "Record whether the research has value to share now.", InitialEvaluation
)
EXPERT_TOOL = ToolSpec("record_expert_assessment", "Record what this expert's answer adds.", ExpertAssessment)
FINAL_TOOL = ToolSpec(
    "record_final_recommendations", "Record the final recommendations for the member.", FinalRecommendations
)

SYSTEM = """You are the research step of Yachtparty, a network of senior professionals. A member \
asked for help choosing a vendor or tool. You judge research material and record structured \
decisions; you never write to the member.

Grounding rule, without exception: name only vendors and products that appear in the SOURCES \
given (web search results, innovators in our network, experts' answers), and give only URLs that \
appear there verbatim. If the sources name nothing concrete, say so: an empty options list is \
correct. Never rely on your own memory of vendors.

Value to share (decision point 1): at least one concrete vendor or solution is identified, it is \
actionable, and it is useful even if incomplete. Keep reasons to one line; ask at most one \
narrowing question (budget, company size, timeline)."""

WEB_SYSTEM = """Search the web for vendors or products that fit the member's need. Prefer the \
vendors' own pages and independent comparisons. Then list the options you found, one per line, \
each with the page you found it on. Do not add anything the search did not return."""


@dataclass(frozen=True)
class WebResearch:
    results: list[WebResult]
    citations: list[WebCitation]
    searches: int
    errors: list[str]


def _request(
    call_kind: str, *, system: str, note: str, user_id: UUID, workflow_id: UUID, tool: ToolSpec | None = None
) -> LlmRequest:
    return LlmRequest(
        agent=AGENT,
        call_kind=call_kind,
        settings=call_settings(AGENT, call_kind),
        prompt_version=PROMPT_VERSION,
        system=system,
        stable_context="",
        dynamic_context="",
        messages=to_api_messages([], trigger_note=note),
        tools=(tool,) if tool else (),
        force_tool=tool.name if tool else None,
        user_id=user_id,
        context_id=workflow_id,
        context_type=CONTEXT_TYPE,
    )


def web_research(
    llm: Llm, *, need: str, category: str | None, user_id: UUID, workflow_id: UUID, max_uses: int
) -> WebResearch | None:
    """Run the web search server tool; None when the model is unavailable."""
    note = f"NEED: {need}\nCATEGORY: {category or 'unknown'}"
    request = _request(WEB_RESEARCH, system=WEB_SYSTEM, note=note, user_id=user_id, workflow_id=workflow_id)
    request.server_tools = (web_search_tool(max_uses),)
    try:
        response = llm.complete(request)
    except LlmUnavailable as exc:
        log.warning("web research unavailable", extra={"reason": exc.reason, "workflow_id": str(workflow_id)})
        return None
    return WebResearch(
        results=list(response.web_results),
        citations=list(response.citations),
        searches=response.usage.web_search_requests,
        errors=list(response.web_search_errors),
    )


def sources_note(sources: dict[str, Any]) -> str:
    return "SOURCES:\n" + json.dumps(sources, indent=1, default=str, ensure_ascii=False)


def _decide(llm: Llm, request: LlmRequest, model: type[pydantic.BaseModel]) -> Any:
    try:
        response = llm.complete(request)
    except LlmUnavailable as exc:
        log.warning(
            "saga decision unavailable",
            extra={
                "reason": exc.reason,
                "call_kind": request.call_kind,
                "workflow_id": str(request.context_id),
            },
        )
        return None
    assert request.force_tool is not None
    call = response.tool_call(request.force_tool)
    if call is None or not isinstance(call.arguments, model):
        log.warning(
            "saga decision gave no valid tool call",
            extra={
                "call_kind": request.call_kind,
                "workflow_id": str(request.context_id),
                "invalid": [c.error for c in response.invalid_tool_calls],
            },
        )
        return None
    return call.arguments


def evaluate_initial(
    llm: Llm, *, need: str, sources: dict[str, Any], user_id: UUID, workflow_id: UUID
) -> InitialEvaluation | None:
    note = f"MEMBER'S NEED: {need}\n\n{sources_note(sources)}\n\nCall record_initial_evaluation."
    request = _request(
        EVALUATE_INITIAL,
        system=SYSTEM,
        note=note,
        user_id=user_id,
        workflow_id=workflow_id,
        tool=INITIAL_TOOL,
    )
    result: InitialEvaluation | None = _decide(llm, request, InitialEvaluation)
    return result


def process_expert_response(
    llm: Llm,
    *,
    need: str,
    answer: str,
    expert_first_name: str | None,
    sources: dict[str, Any],
    user_id: UUID,
    workflow_id: UUID,
) -> ExpertAssessment | None:
    note = (
        f"MEMBER'S NEED: {need}\n\nNEW EXPERT ANSWER (from {expert_first_name or 'an expert'}):\n{answer}\n\n"
        f"{sources_note(sources)}\n\nCall record_expert_assessment."
    )
    request = _request(
        PROCESS_EXPERT_RESPONSE,
        system=SYSTEM,
        note=note,
        user_id=user_id,
        workflow_id=workflow_id,
        tool=EXPERT_TOOL,
    )
    result: ExpertAssessment | None = _decide(llm, request, ExpertAssessment)
    return result


def final_evaluation(
    llm: Llm, *, need: str, sources: dict[str, Any], reason: str, user_id: UUID, workflow_id: UUID
) -> FinalRecommendations | None:
    note = (
        f"MEMBER'S NEED: {need}\nWHY NOW: {reason}\n\n{sources_note(sources)}\n\n"
        "Build the final recommendations: two or three named options that fit, what peers said, "
        "one narrowing question. Call record_final_recommendations."
    )
    request = _request(
        FINAL_EVALUATION, system=SYSTEM, note=note, user_id=user_id, workflow_id=workflow_id, tool=FINAL_TOOL
    )
    result: FinalRecommendations | None = _decide(llm, request, FinalRecommendations)
    return result


def option_dicts(options: Sequence[Option]) -> list[dict[str, Any]]:
    return [o.model_dump(mode="json") for o in options]
