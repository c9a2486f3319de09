"""The Concierge's offline brain (issue 16 §6, decisions A10): deterministic intents, honest replies.

Used with no ``ANTHROPIC_API_KEY`` or when the model is unavailable. ``plan`` maps the member's
texts (read by ``shared.domain.member_intents``) to tool calls; the framework runs them; then
``render`` writes the reply from the tool results alone. The reply says nothing the rules did
not do: an acknowledgment appears only for a tool that succeeded, and a failure is owned up to
without detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.agents.conversation.protocol import ToolResult
from shared.domain.constants import CONCIERGE_TEXT_MAX_CHARS
from shared.domain.member_intents import Intent, IntentKind

SUMMARY_MAX = 100

HONEST_ACK = (
    "Got it. I can put a question to the network or look into vendors for you; tell me what you need."
)
GOAL_NEXT_STEP = (
    "When you want a vendor recommendation or someone to talk to, text me and I'll put the question to "
    "the network."
)
TOOL_TROUBLE = "I'm having trouble with part of that. I'll look into it."


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plan(intents: Sequence[Intent], *, goal_text: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls the rules make. ``goal_text``: the member is answering the welcome question."""
    calls: list[tuple[str, dict[str, Any]]] = []
    if goal_text:
        calls.append(("store_user_goal", {"goal_description": _cut(goal_text, CONCIERGE_TEXT_MAX_CHARS)}))
    for intent in intents:
        question = _cut(intent.text, CONCIERGE_TEXT_MAX_CHARS)
        topic = _cut(intent.topic or intent.text, SUMMARY_MAX)
        if intent.kind is IntentKind.SOLUTION_QUESTION:
            calls.append(
                (
                    "request_solution_research",
                    {"request_description": question, "category": intent.category},
                )
            )
            calls.append(
                (
                    "publish_community_request",
                    {
                        "question": question,
                        "expertise_needed": [topic],
                        "category": intent.category,
                        "desired_outcome": "quick_thoughts",
                        "request_summary": topic,
                    },
                )
            )
        elif intent.kind is IntentKind.FIND_PERSON:
            calls.append(
                (
                    "publish_community_request",
                    {
                        "question": question,
                        "expertise_needed": [topic],
                        "category": intent.category,
                        "desired_outcome": "introduction",
                        "request_summary": _cut(f"someone at {topic}", SUMMARY_MAX),
                    },
                )
            )
        elif intent.kind is IntentKind.CANCEL and intent.topic:
            calls.append(("cancel_community_request", {"about": _cut(intent.topic, 200)}))
    return calls


def render(results: Sequence[ToolResult], intents: Sequence[Intent]) -> list[str]:
    """The reply, from what the tools actually did."""
    done = {r.name: r.output for r in results if r.ok}
    failed = any(not r.ok for r in results)
    lines: list[str] = []
    goal = done.get("store_user_goal")
    if goal is not None:
        lines.append("Noted, that's what you're working on.")
    research = done.get("request_solution_research")
    community = done.get("publish_community_request")
    topic = next((i.topic for i in intents if i.kind is IntentKind.SOLUTION_QUESTION and i.topic), "")
    if research is not None:
        about = _cut(topic, SUMMARY_MAX) if topic and len(topic) <= SUMMARY_MAX else "it"
        lines.append(f"I'll look into {about} and come back to you when I have something concrete.")
    if community is not None:
        lines.append(
            "I'll also get the question out to the network."
            if research is not None
            else "I'll get that question out to the network."
        )
    cancel = done.get("cancel_community_request")
    if cancel is not None:
        about = _cut(str(cancel.get("about") or "that"), SUMMARY_MAX)
        if cancel["cancelled"]:
            lines.append(f"Done. I've cancelled your request about {about}.")
        else:
            lines.append(f"I don't see an open request of yours about {about}, so nothing was cancelled.")
    if failed:
        lines.append(TOOL_TROUBLE)
    if not lines:
        return [HONEST_ACK]
    body = " ".join(lines)
    if goal is not None and len(done) == 1 and not failed:
        return [body, GOAL_NEXT_STEP]
    return [body]
