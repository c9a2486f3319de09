"""The ``create_conversation_summary`` task (decisions B12, platform.md §6.4).

Summarises the messages since the last summary, rolling the previous summary forward, in at
most ``SUMMARY_MAX_WORDS`` words covering the user's needs and goals, key facts, pending items
and sentiment. Stored on ``conversations.conversation_summary`` with
``last_summary_message_id``; the agents' stable context block carries it from then on.

With no LLM (or when it is unavailable) a deterministic extractive summary is written instead,
and the log says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from shared.adapters.llm import Llm, LlmRequest, LlmUnavailable, get_llm
from shared.adapters.postgres import Row
from shared.agents.context import filter_history, to_api_messages
from shared.agents.instances import agent_instance_id
from shared.domain.constants import SUMMARY_MAX_WORDS, SUMMARY_SOURCE_MAX_MESSAGES
from shared.logs import get_logger
from shared.service_layer.unit_of_work import PostgresUnitOfWork

log = get_logger(__name__)

SUMMARY_PROMPT_VERSION = "summary-v1"  # bump with SUMMARY_PROMPT; registered in agent_instances
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


@dataclass
class SummaryResult:
    status: str  # 'stored' | 'nothing_new' | 'no_conversation'
    path: str = ""  # 'llm' | 'extractive'
    summary: str = ""
    last_message_id: UUID | None = None


class _FromSettings:
    pass


FROM_SETTINGS = _FromSettings()


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


def _profile_facts(conversation: Row) -> str:
    name = " ".join(str(conversation.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    parts = [
        p for p in (name, str(conversation.get("title") or ""), str(conversation.get("company") or "")) if p
    ]
    facts = ", ".join(parts) if parts else "no profile details yet"
    verified = "work email verified" if conversation.get("email_verified") else "work email not verified"
    return f"{facts}; {verified}"


def extractive_summary(conversation: Row, messages: Sequence[Row], previous: str | None) -> str:
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


def _transcript(messages: Sequence[Row]) -> str:
    history = filter_history(messages)
    return "\n".join(f"{'User' if m.role == 'user' else 'Yachtparty'}: {m.content.strip()}" for m in history)


def create_conversation_summary(
    conversation_id: UUID,
    *,
    llm: Llm | _FromSettings | None = FROM_SETTINGS,
    uow_factory: Callable[[], PostgresUnitOfWork] = PostgresUnitOfWork,
    agent: str = "system",
) -> SummaryResult:
    """Summarise what is new in this conversation and store it. Idempotent: nothing new, no write."""
    model = get_llm() if isinstance(llm, _FromSettings) else llm
    with uow_factory() as uow:
        conversation = uow.sql.one("summary_lock_conversation", conversation_id=conversation_id)
        if conversation is None:
            return SummaryResult(status="no_conversation")
        messages = uow.sql.all(
            "summary_messages_since",
            conversation_id=conversation_id,
            last_summary_message_id=conversation["last_summary_message_id"],
            limit=SUMMARY_SOURCE_MAX_MESSAGES,
        )
        if not messages:
            return SummaryResult(status="nothing_new")
        previous = conversation.get("conversation_summary")
        last_id = UUID(str(messages[-1]["id"]))
        summary, path = None, "llm"
        if model is not None:
            instance = agent_instance_id(uow.sql, agent, SUMMARY_PROMPT_VERSION, uow_factory=uow_factory)
            summary = _llm_summary(model, conversation, messages, previous, agent, instance=instance)
        if summary is None:
            path = "extractive"
            summary = extractive_summary(conversation, messages, previous)
            log.warning(
                "summary written by the extractive fallback (no LLM answer)",
                extra={"conversation_id": str(conversation_id), "llm_configured": model is not None},
            )
        uow.sql.one(
            "summary_store", conversation_id=conversation_id, summary=summary, last_message_id=last_id
        )
        uow.commit()
    log.info(
        "conversation summary stored",
        extra={"conversation_id": str(conversation_id), "path": path, "words": len(summary.split())},
    )
    return SummaryResult(status="stored", path=path, summary=summary, last_message_id=last_id)


def _llm_summary(
    llm: Llm, conversation: Row, messages: Sequence[Row], previous: str | None, agent: str, *, instance: UUID
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
        agent=agent,
        call_kind="summary",
        system=SUMMARY_PROMPT,
        stable_context="",
        dynamic_context="",
        messages=to_api_messages([], trigger_note=content),
        user_id=UUID(str(conversation["user_id"])),
        context_id=UUID(str(conversation["id"])),
        context_type="conversation",
        prompt_version=SUMMARY_PROMPT_VERSION,
        agent_instance_id=instance,
    )
    try:
        response = llm.complete(request)
    except LlmUnavailable as exc:
        log.warning(
            "summary LLM unavailable",
            extra={"reason": exc.reason, "conversation_id": str(conversation["id"])},
        )
        return None
    text = response.text.strip()
    return clamp_words(text) if text else None
