"""Model, temperature and output-token limit per agent and per call kind, in one typed table.

Defaults follow agents.md §0.4 and platform.md §7.2 (decisions A9). The model id is the
``ANTHROPIC_MODEL`` setting. Any row can be overridden without a deploy through
``LLM_OVERRIDES``, a JSON object keyed ``"<agent>.<call_kind>"`` (or ``"*.<call_kind>"``)
whose values may set ``model``, ``temperature`` and ``max_tokens``, e.g.::

    LLM_OVERRIDES='{"bouncer.reply": {"temperature": 0.5}, "*.summary": {"model": "claude-haiku-4-5"}}'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from shared.config import get_settings


@dataclass(frozen=True)
class CallSettings:
    temperature: float
    max_tokens: int
    model: str | None = None  # None: the ANTHROPIC_MODEL setting


# (agent, call_kind) -> settings; agent "*" applies to every agent.
DEFAULTS: dict[tuple[str, str], CallSettings] = {
    # Bouncer (agents.md §0.4, "Bouncer configuration")
    ("bouncer", "decision"): CallSettings(temperature=0.1, max_tokens=500),
    ("bouncer", "reengagement_decision"): CallSettings(temperature=0.6, max_tokens=500),
    ("bouncer", "reply"): CallSettings(temperature=0.7, max_tokens=300),
    ("bouncer", "referral_match"): CallSettings(temperature=0.1, max_tokens=300),
    # Concierge / Innovator (agents.md §0.4, §16)
    ("concierge", "decision"): CallSettings(temperature=0.1, max_tokens=800),
    ("concierge", "reengagement_decision"): CallSettings(temperature=0.6, max_tokens=1000),
    ("concierge", "system_decision"): CallSettings(temperature=0.3, max_tokens=800),
    ("concierge", "reply"): CallSettings(temperature=0.7, max_tokens=500),
    ("innovator", "decision"): CallSettings(temperature=0.1, max_tokens=1000),
    ("innovator", "reengagement_decision"): CallSettings(temperature=0.6, max_tokens=1000),
    ("innovator", "system_decision"): CallSettings(temperature=0.3, max_tokens=800),
    ("innovator", "reply"): CallSettings(temperature=0.7, max_tokens=500),
    # Any agent (platform.md §6.4: summary max_tokens 500; §1.7 freshness is a short classification)
    ("*", "summary"): CallSettings(temperature=0.3, max_tokens=500),
    ("*", "freshness"): CallSettings(temperature=0.0, max_tokens=200),
    ("*", "decision"): CallSettings(temperature=0.1, max_tokens=800),
    ("*", "reply"): CallSettings(temperature=0.7, max_tokens=500),
}
FALLBACK = CallSettings(temperature=0.3, max_tokens=500)

# Model families that refuse non-default sampling parameters with a 400; temperature is omitted.
NO_TEMPERATURE_PREFIXES = (
    "claude-sonnet-5",
    "claude-opus-5",
    "claude-haiku-5",
    "claude-fable",
    "claude-mythos",
)


def accepts_temperature(model: str) -> bool:
    return not model.startswith(NO_TEMPERATURE_PREFIXES)


def _overrides(raw: str | None) -> dict[str, dict[str, Any]]:
    if not raw:
        return {}
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError("LLM_OVERRIDES must be a JSON object")
    return {str(k): dict(v) for k, v in parsed.items()}


@dataclass(frozen=True)
class ResolvedCall:
    model: str
    temperature: float
    max_tokens: int


def call_settings(agent: str, call_kind: str) -> ResolvedCall:
    """The model, temperature and max tokens for one call, defaults then overrides applied."""
    settings = get_settings()
    base = DEFAULTS.get((agent, call_kind)) or DEFAULTS.get(("*", call_kind)) or FALLBACK
    overrides = _overrides(settings.llm_overrides)
    for key in (f"*.{call_kind}", f"{agent}.{call_kind}"):  # the specific key wins
        if key in overrides:
            o = overrides[key]
            base = replace(
                base,
                model=str(o["model"]) if "model" in o else base.model,
                temperature=float(o["temperature"]) if "temperature" in o else base.temperature,
                max_tokens=int(o["max_tokens"]) if "max_tokens" in o else base.max_tokens,
            )
    return ResolvedCall(
        model=base.model or settings.anthropic_model,
        temperature=base.temperature,
        max_tokens=base.max_tokens,
    )
