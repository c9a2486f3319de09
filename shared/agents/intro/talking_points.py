"""The Intro agent's talking points (agents.md §10): why a connector should care about introducing a
prospect to an innovator. The LLM writes them when there is one; otherwise (or when the LLM is down, or
its text fails the reply guards or the tone check) a deterministic fallback built from the row's facts.
Every text passes ``shared.domain.tone`` (no remarks on appearance, age, gender or other personal traits)
and the reply guards before it is stored (issue 12 §5).
"""

from __future__ import annotations

from shared.adapters.llm import Llm, LlmRequest, LlmUnavailable
from shared.adapters.repositories.offers import OpportunityBrief
from shared.agents.context import to_api_messages
from shared.agents.llm_config import call_settings
from shared.domain.reply_guards import GuardContext, check_reply
from shared.domain.tone import personal_remarks
from shared.logs import get_logger

log = get_logger(__name__)

AGENT = "intro"
PROMPT_VERSION = "intro-talking-points-v1"
MAX_CHARS = 600

SYSTEM_PROMPT = (
    "You write two or three short talking points (one line each, no bullets symbols, no emoji) for a member "
    "who may introduce a person they know to a company that wants to meet them. Say why the introduction "
    "is worth their time: what the company does, why it fits the person's role, and the credits offered. "
    "Describe people only by their professional role and company. Never comment on anyone's appearance, "
    "age, gender, family or any personal trait. Never invent facts that are not in the brief."
)


def _facts(brief: OpportunityBrief) -> str:
    lines = [
        f"Person to introduce: {brief.prospect_name}"
        + (f", {brief.prospect_title}" if brief.prospect_title else "")
        + (f" at {brief.prospect_company}" if brief.prospect_company else ""),
        f"Company asking: {brief.innovator_company or brief.innovator_name or 'a member company'}",
    ]
    if brief.solution_description:
        lines.append(f"What they do: {brief.solution_description}")
    if brief.intro_context:
        lines.append(f"Why: {brief.intro_context}")
    lines.append(f"Credits for the connector when the intro happens: {brief.bounty_credits}")
    return "\n".join(lines)


def fallback_talking_points(brief: OpportunityBrief) -> str:
    """The no-LLM talking points: the row's facts, in the connector's terms."""
    company = brief.innovator_company or brief.innovator_name or "A member company"
    role = " ".join(
        p
        for p in (brief.prospect_title, "at " + brief.prospect_company if brief.prospect_company else "")
        if p
    )
    points = [f"{company} would like to meet {brief.prospect_name}" + (f" ({role})." if role else ".")]
    if brief.solution_description:
        points.append(f"What they do: {brief.solution_description.strip()[:200]}")
    points.append(f"You earn {brief.bounty_credits} credits once the intro happens; no pressure either way.")
    text = "\n".join(points)
    if personal_remarks(text):  # the row's own free text said something it should not: keep the bare facts
        text = f"{company} would like to meet {brief.prospect_name}. You earn {brief.bounty_credits} credits."
    return text


def acceptable(text: str, brief: OpportunityBrief) -> list[str]:
    """Why ``text`` may not be stored (empty: it may): the tone check and the reply guards."""
    problems = [f"personal remark: {w}" for w in personal_remarks(text)]
    ctx = GuardContext(context_text=_facts(brief), system_prompt=SYSTEM_PROMPT)
    problems += [f"{v.kind}: {v.detail}" for v in check_reply([text], ctx)]
    return problems


def talking_points(llm: Llm | None, brief: OpportunityBrief) -> tuple[str, str]:
    """(text, path): path 'llm' or 'fallback'."""
    if llm is None:
        log.info("talking points without an LLM: fallback", extra={"opportunity_id": str(brief.id)})
        return fallback_talking_points(brief), "fallback"
    request = LlmRequest(
        agent=AGENT,
        call_kind="talking_points",
        settings=call_settings(AGENT, "talking_points"),
        prompt_version=PROMPT_VERSION,
        system=SYSTEM_PROMPT,
        stable_context="",
        dynamic_context="",
        messages=to_api_messages([], trigger_note=_facts(brief)),
        user_id=brief.connector_user_id,
        context_id=brief.id,
        context_type="intro_opportunity",
    )
    try:
        text = llm.complete(request).text.strip()[:MAX_CHARS]
    except LlmUnavailable as exc:
        log.warning("talking points LLM unavailable: fallback", extra={"reason": exc.reason})
        return fallback_talking_points(brief), "fallback"
    problems = acceptable(text, brief) if text else ["empty"]
    if problems:
        log.warning(
            "talking points refused: fallback", extra={"opportunity_id": str(brief.id), "problems": problems}
        )
        return fallback_talking_points(brief), "fallback"
    return text, "llm"
