"""Scoring a Bouncer transcript: deterministic checks always, an LLM judge in live mode.

Rubric (agents.md §0.7, §2.3, §2.9, §18): tone (gatekeeper: dry, brief, no exclamation points,
no hype, no sycophancy), flow (referrer first, one question at a time, order kept, no repeated
questions), completeness (all fields captured, verification address given, onboarding completed
after the email). Critical errors: leaked internals, claiming the user is verified or approved,
storing a typed email, the referrer stored as the user's own name, an exclamation point or hype.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from shared.adapters.llm import Llm, LlmRequest, ToolSpec
from shared.agents.llm_config import call_settings
from shared.domain.reply_guards import HYPE_WORDS

HYPE = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(HYPE_WORDS))) + r")(?![\w-])", re.I)
INTERNALS = re.compile(r"(\{\"|make_decision|collect_user_info|next_scenario|tool_|verification_token)")
CLAIMS = re.compile(r"\byou(?:'re| are)\s+(?:now\s+)?(?:verified|approved|in)\b", re.I)
MAX_SENTENCES = 3

RUBRIC = """You judge an SMS onboarding conversation between a new user and the Bouncer, the gatekeeper \
of an invite-only network. Score 1-10 each:
- tone: selective, dry, brief, slightly mysterious; no exclamation points, superlatives, hype, \
marketing speak or sycophancy; under 2 sentences where possible; matches the user's style.
- flow: asks who referred them first, then name, company, title, one thing at a time; never repeats a \
question already answered; handles out-of-order answers; answers "what is this" with the canned blurb.
- completeness: captured everything the user gave, gave the verification address with the privacy line, \
acknowledged the verification email and said the team will review.
List critical errors: leaked JSON or tool names, claiming the user is verified or approved, asking to \
type an email into chat, treating the referrer as the user, volunteering information, listing all \
missing fields at once, anything rude. Call the score tool once."""


class Score(BaseModel):
    tone: int = Field(ge=1, le=10)
    flow: int = Field(ge=1, le=10)
    completeness: int = Field(ge=1, le=10)
    critical_errors: list[str] = Field(default_factory=list, max_length=20)
    summary: str = Field(default="", max_length=1000)


SCORE = ToolSpec("score", "Record the scores for this transcript.", Score)


@dataclass
class Verdict:
    checks: dict[str, bool]
    critical_errors: list[str] = field(default_factory=list)
    llm: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(self.checks.values()) and not self.critical_errors


def deterministic_checks(transcript: list[dict[str, str]], outcome: dict[str, Any], persona: Any) -> Verdict:
    bouncer = [t["text"] for t in transcript if t["role"] == "bouncer"]
    errors: list[str] = []
    for text in bouncer:
        if "!" in text:
            errors.append(f"exclamation point: {text!r}")
        if HYPE.search(text):
            errors.append(f"hype word: {text!r}")
        if INTERNALS.search(text):
            errors.append(f"leaked internals: {text!r}")
        if CLAIMS.search(text):
            errors.append(f"claims approval: {text!r}")
    checks = {
        "answered_every_turn": bool(bouncer),
        "short_replies": all(
            len(re.findall(r"[.?]\s", t + " ")) <= MAX_SENTENCES
            for t in bouncer
            if not t.startswith("I'm just the bouncer")
        ),
        "referrer_asked_first": "who told you" in _first_answer(transcript).lower()
        or _gave_referrer_first(transcript),
        "typed_email_not_stored": outcome.get("email") in (None, persona.work_email),
        "never_verified_by_bouncer": not outcome.get("verified"),
        "completion_as_expected": bool(outcome.get("onboarding_completed")) == persona.expects_completion,
    }
    return Verdict(checks=checks, critical_errors=errors)


def _first_answer(transcript: list[dict[str, str]]) -> str:
    """Everything the Bouncer said before the user's second message."""
    said: list[str] = []
    users = 0
    for turn in transcript:
        users += turn["role"] == "user"
        if users > 1:
            break
        if turn["role"] == "bouncer":
            said.append(turn["text"])
    return " ".join(said)


def _gave_referrer_first(transcript: list[dict[str, str]]) -> bool:
    from shared.domain.onboarding import extract

    first = next((t["text"] for t in transcript if t["role"] == "user"), "")
    return extract(first, None).referrer_name is not None


def llm_judge(llm: Llm, transcript: list[dict[str, str]], persona_description: str) -> dict[str, Any]:
    text = "\n".join(f"{t['role'].upper()}: {t['text']}" for t in transcript)
    response = llm.complete(
        LlmRequest(
            agent="eval_judge",
            call_kind="decision",
            settings=call_settings("eval_judge", "decision"),
            system=RUBRIC,
            stable_context="",
            dynamic_context=f"The user was played as: {persona_description}",
            messages=[{"role": "user", "content": text}],
            tools=[SCORE],
            force_tool="score",
        )
    )
    call = response.tool_call("score")
    if call is None:
        return {
            "error": "judge gave no valid score",
            "invalid": [c.error for c in response.invalid_tool_calls],
        }
    return call.arguments.model_dump()
