"""The model behind the keyed stack (``tests/e2e/conftest.py``): a loopback Messages API answering
each agent's requests deterministically. The Bouncer's are played by ``evals.runner.scripted_responder``;
every other agent's by ``innovator_model`` (Call 1 picks the commerce tool the text asks for, Call 2
quotes the link the tool returned; anything else is a general response)."""

from __future__ import annotations

import re
from typing import Any

from evals.runner import scripted_responder
from tools.fakes.anthropic_api import FakeReply, instant_responder

LINK = re.compile(r"http://127\.0\.0\.1:\d+/(?:\?t=[A-Za-z0-9_-]+|c/pay/cs_test_[0-9a-f]+)")
# How both of the Bouncer's system prompts begin (shared/agents/bouncer/prompts.py).
BOUNCER = re.compile(r"You are (?:the decision step of )?the Bouncer\b")


def _text(content: Any) -> str:
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system")
    return " ".join(_text([b]) for b in system) if isinstance(system, list) else str(system or "")


def is_bouncer(body: dict[str, Any]) -> bool:
    return BOUNCER.search(system_text(body)) is not None


def innovator_model(body: dict[str, Any]) -> FakeReply:
    """Call 1: the commerce tool the member's text asks for. Call 2: the link the tool returned."""
    choice = body.get("tool_choice") or {}
    if choice.get("name") == "make_decision":
        asked = _text(body["messages"][-1]["content"]).lower()
        tools: list[dict[str, Any]] = []
        if "upload" in asked:
            tools = [{"tool_name": "upload_prospects", "params": {}}]
        elif "credits" in asked:
            tools = [{"tool_name": "request_credit_funding", "params": {"amount": 100}}]
        decision = {
            "next_scenario": "single_topic_response" if tools else "general_response",
            "tools_to_execute": tools,
            "context_for_call_2": {"primary_topic": "commerce"},
        }
        return FakeReply(tool_uses=[("make_decision", decision)])
    if choice.get("type") == "tool":
        return instant_responder(body)
    # The turn's FACTS sit in the system prompt or, with the conversation cached, in the last message.
    facts = system_text(body) + " " + _text(body["messages"][-1]["content"])
    links = LINK.findall(facts)
    return FakeReply(text=f"Here is your link: {links[-1]}" if links else "Noted.")


def keyed_model(body: dict[str, Any]) -> FakeReply:
    return scripted_responder(body) if is_bouncer(body) else innovator_model(body)
