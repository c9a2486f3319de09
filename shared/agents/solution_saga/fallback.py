"""The Solution Saga's offline brain: no key, the model unavailable, or web search off.

It runs on the ``innovators`` table and the expert round alone, and says so: it never claims a
search it did not run. Decisions it makes are logged like the model's, with ``by: fallback``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.agents.solution_saga.grounding import Sources

_CONTACT = re.compile(
    r"\b(i know (?:someone|the|their)|happy to (?:intro|introduce|connect)|i can (?:intro|introduce|connect)|"
    r"(?:my|a) contact at|reach out to me)\b",
    re.IGNORECASE,
)
MIN_ANSWER_CHARS = 20  # shorter than this adds nothing ("no idea", "pass")


def _first_sentence(text: str | None, limit: int = 120) -> str:
    if not text:
        return ""
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rsplit(" ", 1)[0] + "..."


def innovator_options(innovators: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(i["company_name"]),
            "url": None,
            "reason": _first_sentence(i.get("solution_description"))
            or "a company in our network in this area",
            "source": "innovator",
        }
        for i in innovators
    ]


def initial_evaluation(innovators: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    options = innovator_options(innovators)
    return {
        "hasValueToShare": bool(options),
        "findings": {"summary": "innovators in our network by category", "options": options},
        "reasoning": (
            f"offline: {len(options)} matching innovators; no web research"
            if options
            else "offline: no matching innovators and no web research; wait for experts"
        ),
    }


def mentioned(names: Sequence[str], text: str) -> list[str]:
    lowered = text.lower()
    return [n for n in names if re.search(rf"(?<!\w){re.escape(n.lower())}(?!\w)", lowered)]


def expert_assessment(answer: str, sources: Sources) -> dict[str, Any]:
    contact = _CONTACT.search(answer)
    return {
        "addedValue": len(answer.strip()) >= MIN_ANSWER_CHARS,
        "needsFollowUp": False,
        "followUpQuestion": None,
        "hasContactIntro": contact is not None,
        "contactInfo": contact.group(0) if contact else None,
        "shouldUpdateUser": False,
        "mentionedVendors": mentioned(sorted(sources.innovator_names), answer),
        "reasoning": "offline: answer recorded as given; no model judgement",
    }


def final_recommendations(
    innovators: Sequence[Mapping[str, Any]], insights: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Innovators the experts named first, then the rest; peers' words are quoted as said."""
    options = innovator_options(innovators)
    said = " ".join(
        f"{e.get('summary') or ''} {(e.get('follow_up') or {}).get('answer') or ''}" for e in insights
    )
    named = {n.lower() for n in mentioned([o["name"] for o in options], said)}
    options.sort(key=lambda o: o["name"].lower() not in named)
    return {
        "summary": "offline: innovators in our network and what members answered",
        "options": options,
        "frequentlyMentioned": [],
        "narrowingQuestion": None,
        "reasoning": f"offline: {len(options)} innovators, {len(insights)} expert answers",
    }
