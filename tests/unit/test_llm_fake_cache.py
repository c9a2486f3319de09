"""The Anthropic fake's cache accounting: the benchmark's figures depend on it being honest."""

from __future__ import annotations

from typing import Any

from tools.fakes.anthropic_api import PromptCache, prompt_blocks

EPH = {"type": "ephemeral"}


def _body(
    system: str, profile: str, turn: str, user: str, model: str = "claude-sonnet-4-6"
) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 100,
        "tools": [
            {
                "name": "make_decision",
                "description": "d",
                "input_schema": {"type": "object"},
                "cache_control": EPH,
            }
        ],
        "system": [
            {"type": "text", "text": system, "cache_control": EPH},
            {"type": "text", "text": profile, "cache_control": EPH},
            {"type": "text", "text": turn},
        ],
        "messages": [{"role": "user", "content": user}],
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_request_writes_the_prefix_and_the_next_reads_it():
    clock = Clock()
    cache = PromptCache(clock)
    body = _body("S" * 8000, "P" * 800, "guidance", "hey")
    total = sum(b.tokens for b in prompt_blocks(body))
    first = cache.account("claude-sonnet-4-6", prompt_blocks(body))
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation_input_tokens > 2000
    assert first.input_tokens + first.cache_creation_input_tokens == total

    clock.now += 60
    second = cache.account("claude-sonnet-4-6", prompt_blocks(_body("S" * 8000, "P" * 800, "other", "next")))
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0


def test_a_changed_profile_reads_the_system_prefix_and_writes_the_rest():
    clock = Clock()
    cache = PromptCache(clock)
    cache.account("claude-sonnet-4-6", prompt_blocks(_body("S" * 8000, "P" * 800, "g", "u")))
    changed = cache.account("claude-sonnet-4-6", prompt_blocks(_body("S" * 8000, "Q" * 800, "g", "u")))
    assert changed.cache_read_input_tokens > 0
    assert changed.cache_creation_input_tokens == 200  # the new profile block only


def test_entries_expire_after_the_ttl_and_short_prefixes_are_never_cached():
    clock = Clock()
    cache = PromptCache(clock)
    body = prompt_blocks(_body("S" * 8000, "P" * 800, "g", "u"))
    cache.account("claude-sonnet-4-6", body)
    clock.now += 301
    assert cache.account("claude-sonnet-4-6", body).cache_read_input_tokens == 0
    short = prompt_blocks(_body("tiny", "p", "g", "u"))
    cache.account("claude-sonnet-4-6", short)
    assert cache.account("claude-sonnet-4-6", short).cache_read_input_tokens == 0


def test_cache_is_per_model():
    cache = PromptCache(Clock())
    body = prompt_blocks(_body("S" * 12000, "P" * 800, "g", "u"))
    cache.account("claude-sonnet-4-6", body)
    assert cache.account("claude-haiku-4-5", body).cache_read_input_tokens == 0
