"""load_context reads the history only when asked for some: a turn asks for none and loads it
itself once it knows how much (one statement fewer per turn)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import uuid4

from shared.agents.context import load_context

USER = SimpleNamespace(id=uuid4())
CONVERSATION = SimpleNamespace(id=uuid4(), conversation_summary=None)


class _Messages:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def recent_history(self, conversation_id: Any, *, limit: int, roles: list[str]) -> list[Any]:
        self.calls.append({"conversation_id": conversation_id, "limit": limit})
        return []


def _source(messages: _Messages) -> Any:
    return SimpleNamespace(
        users=SimpleNamespace(get=lambda user_id: USER),
        conversations=SimpleNamespace(get=lambda cid: CONVERSATION, active_for_user=lambda uid: CONVERSATION),
        messages=messages,
    )


def test_no_history_read_when_none_is_asked_for() -> None:
    messages = _Messages()
    ctx = load_context(_source(messages), USER.id, history_limit=0, conversation_id=CONVERSATION.id)
    assert ctx is not None and ctx.history == []
    assert ctx.conversation_id == CONVERSATION.id
    assert messages.calls == []


def test_history_read_with_the_limit_asked_for() -> None:
    messages = _Messages()
    ctx = load_context(_source(messages), USER.id, history_limit=12)
    assert ctx is not None
    assert messages.calls == [{"conversation_id": CONVERSATION.id, "limit": 12}]
