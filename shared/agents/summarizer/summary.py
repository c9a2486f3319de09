"""The summariser: writes the rolling summary of one member's conversation (platform.md §6.4).

The prompt and the two ways of writing a summary: the LLM (``llm_summary``) and, when no LLM
answers, a deterministic extractive summary (``extractive_summary``). The use case that reads
and stores is ``shared.service_layer.summaries``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from uuid import UUID

from shared.adapters.llm import Llm, LlmRequest, LlmUnavailable
from shared.adapters.repositories import HistoryItem
from shared.adapters.repositories.conversations import SummaryTarget
from shared.agents.context import filter_history, to_api_messages
from shared.agents.llm_config import call_settings
from shared.domain.constants import SUMMARY_MAX_WORDS
from shared.logs import get_logger

log = get_logger(__name__)

AGENT = "summarizer"
PROMPT_VERSION = "summary-v1"

SUMMARY_PROMPT = f"""You write the running summary of one member's SMS conversation with Yachtparty, \
an invitation-only professional network. Other agents read it instead of the older messages.

Write at most {SUMMARY_MAX_WORDS} words of plain prose under four short labelled lines:
Needs and goals: what the user wants from the network.
Key facts: name, company, role, expertise, who referred them; only what the messages or profile state.
Pending: open questions, promised follow-ups, requests not yet resolved.
Sentiment: how engaged or frustrated they seem, in a few words.

Do NOT invent names, facts or outcomes. Do NOT quote tool names, JSON or system details. If the \
previous summary is given, fold it in and keep what still matters."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_NEED_CUES = re.compile(
    r"\b(looking for|need|want|hoping|trying to|help|interested in|goal|find|hire|raise|meet)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(r"\b(thanks|thank you|great|perfect|love|excited|glad|awesome|sounds good)\b", re.I)
_NEGATIVE = re.compile(r"\b(annoyed|frustrat\w*|stop|not interested|busy|confus\w*|why|spam|ugh)\b", re.I)


def clamp_words(text: str, limit: int = SUMMARY_MAX_WORDS) -> str:
    """At most ``limit`` words, cut at the last sentence end that fits when there is one."""
    words = text.split()
    if len(words) <= limit:
        return text.strip()
    clipped = " ".join(words[:limit])
    end = max(clipped.rfind(". "), clipped.rfind("? "), clipped.rfind("! "))
    if clipped.endswith((".", "?", "!")):
        return clipped
    return clipped[: end + 1] if end > len(clipped) // 2 else clipped + "…"


def _profile_facts(conversation: SummaryTarget) -> str:
    name = " ".join((v or "").strip() for v in (conversation.first_name, conversation.last_name)).strip()
    parts = [p for p in (name, conversation.title or "", conversation.company or "") if p]
    facts = ", ".join(parts) if parts else "no profile details yet"
    verified = "work email verified" if conversation.email_verified else "work email not verified"
    return f"{facts}; {verified}"


def extractive_summary(
    conversation: SummaryTarget, messages: Sequence[HistoryItem], previous: str | None
) -> str:
    """Deterministic summary for when no LLM can write one: profile facts, the user's stated
    needs, what is pending, a sentiment word."""
    history = filter_history(messages)
    user_lines = [m.content.strip() for m in history if m.role == "user"]
    needs = [s for line in user_lines for s in _SENTENCE.split(line) if _NEED_CUES.search(s)]
    last = history[-1] if history else None
    if last is not None and last.role != "user" and last.content.rstrip().endswith("?"):
        pending = f"waiting for the user to answer: {last.content.strip()}"
    elif last is not None and last.role == "user":
        pending = f"the user's last message awaits a reply: {last.content.strip()}"
    else:
        pending = "nothing open"
    joined = " ".join(user_lines)
    positive, negative = len(_POSITIVE.findall(joined)), len(_NEGATIVE.findall(joined))
    sentiment = (
        "positive" if positive > negative else "frustrated or hesitant" if negative > positive else "neutral"
    )
    lines = [
        f"Needs and goals: {'; '.join(needs[-3:]) if needs else 'not stated yet'}.",
        f"Key facts: {_profile_facts(conversation)}.",
        f"Pending: {pending}",
        f"Sentiment: {sentiment}; {len(user_lines)} user messages since the last summary.",
    ]
    if previous:
        lines.insert(0, f"Earlier: {clamp_words(previous, SUMMARY_MAX_WORDS // 3)}")
    return clamp_words("\n".join(lines))


def _transcript(messages: Sequence[HistoryItem]) -> str:
    history = filter_history(messages)
    return "\n".join(f"{'User' if m.role == 'user' else 'Yachtparty'}: {m.content.strip()}" for m in history)


def llm_summary(
    llm: Llm,
    conversation: SummaryTarget,
    messages: Sequence[HistoryItem],
    previous: str | None,
    *,
    instance: UUID | None = None,
) -> str | None:
    transcript = _transcript(messages)
    if not transcript:
        return None
    content = (
        (f"PREVIOUS SUMMARY:\n{previous}\n\n" if previous else "")
        + f"PROFILE: {_profile_facts(conversation)}\n\nNEW MESSAGES:\n{transcript}\n\n"
        + f"Write the updated summary, at most {SUMMARY_MAX_WORDS} words."
    )
    request = LlmRequest(
        agent=AGENT,
        call_kind="summary",
        settings=call_settings(AGENT, "summary"),
        prompt_version=PROMPT_VERSION,
        system=SUMMARY_PROMPT,
        stable_context="",
        dynamic_context="",
        messages=to_api_messages([], trigger_note=content),
        user_id=conversation.user_id,
        context_id=conversation.id,
        context_type="conversation",
        agent_instance_id=instance,
    )
    try:
        response = llm.complete(request)
    except LlmUnavailable as exc:
        log.warning(
            "summary LLM unavailable",
            extra={"reason": exc.reason, "conversation_id": str(conversation.id)},
        )
        return None
    text = response.text.strip()
    return clamp_words(text) if text else None
