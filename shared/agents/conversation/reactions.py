"""Tapbacks in a turn's inbound texts (``shared.domain.tapbacks``): what each one counts as.

An approval or a disapproval of a part of the agent's latest reply that asks something ("Would
you like the intro? Reply yes or no.") stands for a yes or a no (👍 / 👎) when the agent reads
answers that way (``Agent.reads_reactions``: the Concierge and the Innovator). Every other
reaction (a laugh, a like of a statement, a reaction to an older message, a reaction taken back)
is the member acknowledging what they read: it is marked answered with the turn and asks for no
reply. A text in that form that quotes nothing the member was sent (in the history the turn
loaded) is read as the text it is.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.agents.context import HistoryMessage
from shared.agents.conversation.protocol import Turn
from shared.domain.tapbacks import Tapback, quotes, read_tapback

YES_TEXT = "\U0001f44d"  # 👍: what a member's approving reaction says to the rules
NO_TEXT = "\U0001f44e"  # 👎


def _latest_reply(history: list[HistoryMessage], before: UUID) -> list[str]:
    """The agent's messages between the member's previous text and the reaction ``before``."""
    index = next((i for i, m in enumerate(history) if m.id == before), len(history))
    parts: list[str] = []
    for message in reversed(history[:index]):
        if message.role == "user":
            break
        if message.direction == "outbound":
            parts.append(message.content)
    return parts


def _meaning(tapback: Tapback, reply: list[str], reads_answers: bool) -> str | None:
    if not reads_answers or tapback.yes_no is None:
        return None
    asked = next((part for part in reply if quotes(tapback, part)), None)
    if asked is None or "?" not in asked:
        return None  # a reaction to a statement, or to an older message
    # The question may come before the instructions: "Would you like the intro? Reply yes or no."
    return YES_TEXT if tapback.yes_no else NO_TEXT


def read_reactions(turn: Turn[Any], *, reads_answers: bool) -> int:
    """Record in ``turn.reactions`` what each inbound tapback counts as; returns how many there were."""
    found = 0
    for message in turn.inbound:
        if message.role != "user":
            continue
        tapback = read_tapback(message.content)
        sent = (m.content for m in turn.ctx.history if m.direction == "outbound")
        if tapback is None or not any(quotes(tapback, text) for text in sent):
            continue  # a text of its own ('Loved "Dune"' quotes nothing we sent)
        found += 1
        reply = _latest_reply(turn.ctx.history, message.id)
        turn.reactions[message.id] = _meaning(tapback, reply, reads_answers)
    return found
