"""Model, temperature and output-token limit per agent and per call kind, in one typed table.

Defaults follow agents.md §0.4 and platform.md §7.2 (decisions A9). The model id is the
``ANTHROPIC_MODEL`` setting. Any row can be overridden without a deploy through
``LLM_OVERRIDES``, a JSON object keyed ``"<agent>.<call_kind>"`` (or ``"*.<call_kind>"``)
whose values may set ``model``, ``temperature``, ``max_tokens``, ``cache_history`` (the
conversation is part of the cached prefix) and ``cache_ttl`` (``5m`` or ``1h``; both in
``shared.adapters.llm.ResolvedCall``), e.g.::

    LLM_OVERRIDES='{"bouncer.reply": {"temperature": 0.5}, "*.summary": {"model": "claude-haiku-4-5"}}'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from shared import registry
from shared.adapters.llm import ResolvedCall
from shared.config import get_settings


@dataclass(frozen=True)
class CallSettings:
    temperature: float
    max_tokens: int
    model: str | None = None  # None: the ANTHROPIC_MODEL setting
    cache_history: bool = False  # the history is in the cached prefix (ResolvedCall.cache_history)
    cache_ttl: str = "5m"  # '5m' or '1h' (ResolvedCall.cache_ttl)


def _defaults() -> dict[tuple[str, str], CallSettings]:
    table = {
        (spec.key, kind): CallSettings(
            temperature=d.temperature,
            max_tokens=d.max_tokens,
            cache_history=d.cache_history,
            cache_ttl=d.cache_ttl,
        )
        for spec in registry.AGENTS
        for kind, d in spec.llm_calls.items()
    }
    # Calls any agent may make (platform.md §1.7: freshness is a short classification).
    table[("*", "freshness")] = CallSettings(temperature=0.0, max_tokens=200)
    table[("*", "summary")] = table[("summarizer", "summary")]
    return table


# (agent, call_kind) -> settings, from the registry; agent "*" applies to every agent.
DEFAULTS: dict[tuple[str, str], CallSettings] = _defaults()
FALLBACK = CallSettings(temperature=0.3, max_tokens=500)


def _overrides(raw: str | None) -> dict[str, dict[str, Any]]:
    if not raw:
        return {}
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError("LLM_OVERRIDES must be a JSON object")
    return {str(k): dict(v) for k, v in parsed.items()}


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
                cache_history=bool(o["cache_history"]) if "cache_history" in o else base.cache_history,
                cache_ttl=str(o["cache_ttl"]) if "cache_ttl" in o else base.cache_ttl,
            )
    return ResolvedCall(
        model=base.model or settings.anthropic_model,
        temperature=base.temperature,
        max_tokens=base.max_tokens,
        cache_history=base.cache_history,
        cache_ttl=base.cache_ttl if base.cache_ttl in ("5m", "1h") else "5m",
    )
