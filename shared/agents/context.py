"""Context loaded fresh for every agent invocation (agents.md §0.1 statelessness, §0.3, §4.2).

History rules (agents.md §0.3): keep ``user`` messages, the agents' own messages
(``bouncer`` / ``concierge`` / ``innovator``) and ``system`` messages only when
``direction='outbound'``; drop inbound system triggers and everything else. ``user`` maps to
the user role, everything else to the assistant role. Consecutive messages of one role are
merged (the Messages API wants alternating turns) and the window never starts with an
assistant turn. No synthetic "[Internal: ...]" turns are ever stored; when a system trigger
starts the turn, ``to_api_messages`` closes the request with a short user-role note naming
the trigger, in the request only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared import registry
from shared.adapters.repositories import (
    Conversation,
    ConversationRepository,
    HistoryItem,
    MessageRepository,
    User,
    UserRepository,
)

AGENT_ROLES = frozenset(registry.poc_agent_keys())


@dataclass(frozen=True)
class HistoryMessage:
    role: str  # the messages.role value
    direction: str
    content: str
    created_at: datetime | None = None
    id: UUID | None = None

    @property
    def api_role(self) -> str:
        return "user" if self.role == "user" else "assistant"


def keep_in_history(role: str, direction: str) -> bool:
    """agents.md §0.3: what the LLM may see."""
    if role == "user":
        return direction == "inbound"
    if role in AGENT_ROLES:
        return direction == "outbound"
    if role == "system":
        return direction == "outbound"
    return False


def filter_history(messages: Sequence[HistoryItem]) -> list[HistoryMessage]:
    """Stored messages (oldest first) -> the messages an agent may see, oldest first."""
    return [
        HistoryMessage(
            role=m.role, direction=m.direction, content=m.content, created_at=m.created_at, id=m.id
        )
        for m in messages
        if keep_in_history(m.role, m.direction) and m.content.strip()
    ]


def _stamp(message: HistoryMessage) -> str:
    if message.created_at is None:
        return message.content
    return f"[{message.created_at:%Y-%m-%d %H:%M} UTC] {message.content}"


def to_api_messages(
    history: Sequence[HistoryMessage], *, trigger_note: str | None = None, with_timestamps: bool = False
) -> list[dict[str, Any]]:
    """History in the Messages API format: alternating roles, first and last turn the user's.

    ``trigger_note`` closes the request when the history does not end with the user (a system
    trigger such as a re-engagement check started this turn). It is never stored.
    """
    turns: list[dict[str, Any]] = []
    for message in history:
        text = _stamp(message) if with_timestamps else message.content
        if turns and turns[-1]["role"] == message.api_role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": message.api_role, "content": text})
    while turns and turns[0]["role"] != "user":
        turns.pop(0)
    if not turns or turns[-1]["role"] != "user":
        note = trigger_note or "(No new message from the user.)"
        turns.append({"role": "user", "content": note})
    return turns


@dataclass
class AgentContext:
    user: User
    conversation: Conversation | None
    history: list[HistoryMessage] = field(default_factory=list)

    @property
    def user_id(self) -> UUID:
        return self.user.id

    @property
    def conversation_id(self) -> UUID | None:
        return self.conversation.id if self.conversation else None

    @property
    def summary(self) -> str | None:
        if not self.conversation:
            return None
        return self.conversation.conversation_summary or None


class ContextSource(Protocol):
    """Where context is read from: the unit of work's repositories."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...


def load_history(messages: MessageRepository, conversation_id: UUID, limit: int) -> list[HistoryMessage]:
    roles = [registry.USER_ROLE, *registry.poc_agent_keys()]
    recent = messages.recent_history(conversation_id, limit=limit, roles=roles)
    return filter_history(list(reversed(recent)))


def load_context(
    source: ContextSource, user_id: UUID, *, history_limit: int, conversation_id: UUID | None = None
) -> AgentContext | None:
    """Profile, conversation (with its summary) and filtered history; None for an unknown user."""
    user = source.users.get(user_id)
    if user is None:
        return None
    if conversation_id is not None:
        conversation = source.conversations.get(conversation_id)
    else:
        conversation = source.conversations.active_for_user(user_id)
    # history_limit 0: the caller loads the history itself once it knows how much (a turn does)
    history = (
        load_history(source.messages, conversation.id, history_limit)
        if conversation and history_limit > 0
        else []
    )
    return AgentContext(user=user, conversation=conversation, history=history)


PROFILE_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("company", "Company"),
    ("title", "Title"),
    ("referrer_name", "Referred by"),
    ("name_dropped", "Named as referrer (unmatched)"),
)


def profile_block(ctx: AgentContext) -> str:
    """The stable profile block (cached): known fields, verification state, the summary."""
    user = ctx.user
    lines = ["USER PROFILE"]
    for key, label in PROFILE_FIELDS:
        value = getattr(user, key)
        lines.append(f"- {label}: {str(value).strip() if value and str(value).strip() else '(unknown)'}")
    if user.expertise:
        lines.append(f"- Expertise: {', '.join(str(e) for e in user.expertise)}")
    lines.append(f"- Work email verified: {'yes' if user.email_verified else 'no'}")
    lines.append(f"- Member approved: {'yes' if user.verified else 'no'}")
    if ctx.summary:
        lines += ["", "CONVERSATION SUMMARY (older messages)", ctx.summary]
    return "\n".join(lines)
