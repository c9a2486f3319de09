"""Caching the conversation (``ResolvedCall.cache_history``, ``cache_ttl``): where the breakpoints go,
that turn N+1 reads what turn N wrote, the 1-hour TTL's price, and the fake billing it honestly."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pydantic

from shared.adapters.llm import LlmRequest, ResolvedCall, ToolSpec, build_params
from shared.adapters.llm_prices import cost_usd
from shared.agents.concierge.agent import window, window_length
from shared.agents.llm_config import call_settings
from tools.fakes.anthropic_api import PromptCache, _validate, prompt_blocks


class Decision(pydantic.BaseModel):
    next_scenario: str
    title: str | None = None  # a property called "title" is kept; only the annotations go


DECIDE = ToolSpec("make_decision", "Decide.", Decision)
SETTINGS = ResolvedCall("claude-sonnet-4-6", 0.1, 800, cache_history=True, cache_ttl="1h")


def _history(turns: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        if messages:
            messages.append({"role": "assistant", "content": f"reply {i - 1} " + "r" * 200})
        messages.append({"role": "user", "content": f"text {i} " + "u" * 200})
    return messages


def _request(turns: int, *, dynamic: str = "TURN CONTEXT now", tool_choice: bool = True) -> LlmRequest:
    return LlmRequest(
        agent="concierge",
        call_kind="decision",
        settings=SETTINGS,
        system="S" * 6000,
        stable_context="member block " + "m" * 1600,
        dynamic_context=dynamic,
        messages=_history(turns),
        tools=[DECIDE],
        force_tool="make_decision" if tool_choice else None,
    )


def _marked(params: dict[str, Any]) -> list[str]:
    where = [f"tool:{t['name']}" for t in params["tools"] if "cache_control" in t]
    where += [f"system:{i}" for i, b in enumerate(params["system"]) if "cache_control" in b]
    for i, m in enumerate(params["messages"]):
        if isinstance(m["content"], list):
            where += [f"message:{i}" for b in m["content"] if "cache_control" in b]
    return where


def test_breakpoints_close_the_previous_and_the_latest_user_turn_and_the_turn_block_comes_last():
    request = _request(3)
    params = build_params(request, SETTINGS)
    assert _marked(params) == ["system:0", "system:1", "message:2", "message:4"]
    assert all(b["cache_control"] == {"type": "ephemeral", "ttl": "1h"} for b in params["system"])
    last = params["messages"][-1]["content"]
    assert last[-1] == {"type": "text", "text": "TURN CONTEXT now"}  # after the history, uncached
    assert "cache_control" in last[0] and last[0]["text"].startswith("text 2")
    assert [b["text"] for b in params["system"]] == [request.system, request.stable_context]
    assert request.messages == _history(3)  # the request itself is never mutated


def test_without_history_caching_the_layout_is_unchanged():
    settings = replace(SETTINGS, cache_history=False, cache_ttl="5m")
    params = build_params(_request(3), settings)
    assert _marked(params) == ["tool:make_decision", "system:0", "system:1"]
    assert params["system"][2] == {"type": "text", "text": "TURN CONTEXT now"}
    assert params["messages"] == _history(3)


def test_tool_schemas_leave_out_pydantic_titles_but_keep_a_property_called_title():
    schema = DECIDE.to_api()["input_schema"]
    assert "title" not in schema and "title" not in schema["properties"]["next_scenario"]
    assert "title" in schema["properties"]


def test_turn_n_plus_1_reads_what_turn_n_wrote_and_writes_only_the_new_messages():
    cache = PromptCache(lambda: 1000.0)
    model = "claude-sonnet-4-6"
    first = cache.account(model, prompt_blocks(build_params(_request(2), SETTINGS)))
    second = cache.account(model, prompt_blocks(build_params(_request(3, dynamic="later"), SETTINGS)))
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation_1h_input_tokens == first.cache_creation_input_tokens > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert 0 < second.cache_creation_input_tokens < 150  # the reply and the new text only


def test_a_different_tool_choice_shares_tools_and_system_but_not_the_messages():
    cache = PromptCache(lambda: 1000.0)
    model = "claude-sonnet-4-6"
    forced = build_params(_request(3), SETTINGS)
    free = build_params(_request(3, tool_choice=False), SETTINGS)
    cache.account(model, prompt_blocks(forced))
    other = cache.account(model, prompt_blocks(free))
    system_prefix = sum(b.tokens for b in prompt_blocks(free)[:3])  # the tool, the two system blocks
    assert other.cache_read_input_tokens == system_prefix


def test_a_one_hour_entry_outlives_five_minutes():
    clock = [1000.0]
    cache = PromptCache(lambda: clock[0])
    model = "claude-sonnet-4-6"
    body = build_params(_request(2), SETTINGS)
    written = cache.account(model, prompt_blocks(body))
    clock[0] += 1800
    assert (
        cache.account(model, prompt_blocks(body)).cache_read_input_tokens
        == written.cache_creation_input_tokens
    )
    short = build_params(_request(2), replace(SETTINGS, cache_ttl="5m"))
    cache.account(model, prompt_blocks(short))
    clock[0] += 600
    assert cache.account(model, prompt_blocks(short)).cache_read_input_tokens == 0


def test_the_fake_counts_message_breakpoints_and_refuses_1h_after_5m():
    body = build_params(_request(3), SETTINGS)
    assert _validate(body) is None
    body["messages"][0]["content"] = [
        {"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    assert _validate(body) == "A maximum of 4 blocks with cache_control may be provided."
    mixed = build_params(_request(3), SETTINGS)
    mixed["system"][0]["cache_control"] = {"type": "ephemeral"}
    assert "must not come after" in str(_validate(mixed))


def test_one_hour_writes_cost_twice_the_input_price():
    plain = cost_usd(
        "claude-sonnet-4-6", input_tokens=0, output_tokens=0, cache_read_tokens=0, cache_write_tokens=1000
    )
    hour = cost_usd(
        "claude-sonnet-4-6",
        input_tokens=0,
        output_tokens=0,
        cache_read_tokens=0,
        cache_write_tokens=1000,
        cache_write_1h_tokens=1000,
    )
    assert plain == Decimal("0.003750") and hour == Decimal("0.006000")


def test_the_concierge_caches_its_conversation_for_an_hour_and_the_bouncer_does_not():
    for kind in ("decision", "system_decision", "reply"):
        settings = call_settings("concierge", kind)
        assert settings.cache_history and settings.cache_ttl == "1h"
    assert call_settings("innovator", "decision").cache_history
    bouncer = call_settings("bouncer", "reply")
    assert not bouncer.cache_history and bouncer.cache_ttl == "5m"


def test_the_history_window_moves_in_steps():
    assert [window_length(n, 10, 6) for n in (3, 10, 11, 15, 16, 21, 22)] == [3, 10, 11, 15, 10, 15, 10]
    starts = [len(range(n)) - window_length(n, 10, 6) for n in range(10, 40)]
    assert starts == sorted(starts) and len(set(starts)) == 5  # the first message moves 4 times in 30
    assert window(list(range(16)), 10, 6) == list(range(6, 16))
