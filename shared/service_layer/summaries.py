"""The ``create_conversation_summary`` task (decisions B12, platform.md §6.4).

Summarises the messages since the last summary, rolling the previous summary forward, in at
most ``SUMMARY_MAX_WORDS`` words covering the user's needs and goals, key facts, pending items
and sentiment. Stored on ``conversations.conversation_summary`` with
``last_summary_message_id``; the agents' stable context block carries it from then on.

This is the background-agent template at its smallest: the task arrives, the summariser
decides (with the LLM, or the extractive fallback when there is none), and writes its row in
the consumer's unit of work, so the delivery's mark, the task's completion and the summary are
one commit. It runs for every member, whatever their point of contact (``agent_summarizer``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.adapters.llm import Llm
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.instances import agent_instance_id
from shared.agents.summarizer.summary import AGENT, PROMPT_VERSION, extractive_summary, llm_summary
from shared.domain.constants import SUMMARY_SOURCE_MAX_MESSAGES
from shared.logs import get_logger
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps

log = get_logger(__name__)


@dataclass
class SummaryResult:
    status: str  # 'stored' | 'nothing_new' | 'no_conversation'
    path: str = ""  # 'llm' | 'extractive'
    summary: str = ""
    last_message_id: UUID | None = None


def handle_summary_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Task ``create_conversation_summary`` (scheduled by the messages trigger, agent_type 'system')."""
    context = delivery.data.get("context_json") or {}
    raw = delivery.data.get("context_id") or context.get("conversation_id")
    if raw is None:
        raise PermanentError("create_conversation_summary without a conversation id")
    try:
        conversation_id = UUID(str(raw))
    except ValueError:
        raise PermanentError(f"conversation id is not a UUID: {raw!r}") from None
    result = summarize_conversation(uow, conversation_id, llm=deps.llm, uow_factory=deps.uow_factory)
    return {"status": result.status, "path": result.path}


def summarize_conversation(
    uow: PostgresUnitOfWork,
    conversation_id: UUID,
    *,
    llm: Llm | None,
    uow_factory: Callable[[], PostgresUnitOfWork],
) -> SummaryResult:
    """Summarise what is new in this conversation and store it, in ``uow`` (the caller commits).
    Idempotent: nothing new, no write. ``uow_factory`` registers the summariser's prompt version
    in agent_instances on first use (its own short transaction)."""
    conversation = uow.conversations.lock_for_summary(conversation_id)
    if conversation is None:
        return SummaryResult(status="no_conversation")
    messages = uow.messages.since_summary(
        conversation_id, conversation.last_summary_message_id, limit=SUMMARY_SOURCE_MAX_MESSAGES
    )
    if not messages:
        return SummaryResult(status="nothing_new")
    previous = conversation.conversation_summary
    last_id = messages[-1].id
    summary, path = None, "llm"
    if llm is not None:
        instance = agent_instance_id(uow, AGENT, PROMPT_VERSION, uow_factory=uow_factory)
        summary = llm_summary(llm, conversation, messages, previous, instance=instance)
    if summary is None:
        path = "extractive"
        summary = extractive_summary(conversation, messages, previous)
        log.warning(
            "summary written by the extractive fallback (no LLM answer)",
            extra={"conversation_id": str(conversation_id), "llm_configured": llm is not None},
        )
    uow.conversations.store_summary(conversation_id, summary, last_id)
    log.info(
        "conversation summary stored",
        extra={"conversation_id": str(conversation_id), "path": path, "words": len(summary.split())},
    )
    return SummaryResult(status="stored", path=path, summary=summary, last_message_id=last_id)
