"""The LLM adapter's pure parts: price table, per-call configuration, request building, the fake."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pydantic
import pytest

from shared import config
from shared.adapters.llm import LlmRequest, LlmUnavailable, ToolSpec, Usage, build_params
from shared.adapters.llm_prices import PRICES, cost_usd, price_for
from shared.agents.llm_config import call_settings
from tests.fakes.llm import InMemoryCallLog, ScriptedLlm, ScriptedReply


class Decision(pydantic.BaseModel):
    next_scenario: str
    first_name: str | None = None


DECIDE = ToolSpec("make_decision", "Decide.", Decision)
OTHER = ToolSpec("collect_user_info", "Collect.", Decision)


def _request(**kw: Any) -> LlmRequest:
    base: dict[str, Any] = dict(
        agent="bouncer",
        call_kind="decision",
        settings=call_settings("bouncer", "decision"),
        system="static system prompt",
        stable_context="profile block",
        dynamic_context="this turn's guidance",
        messages=[{"role": "user", "content": "hey"}],
        tools=[OTHER, DECIDE],
        force_tool="make_decision",
    )
    base.update(kw)
    return LlmRequest(**base)


def test_cost_counts_every_token_kind_at_its_own_rate():
    # Sonnet 4.6: 3 in, 15 out, 0.30 cache read, 3.75 cache write per million
    cost = cost_usd(
        "claude-sonnet-4-6",
        input_tokens=1_000,
        output_tokens=200,
        cache_read_tokens=10_000,
        cache_write_tokens=2_000,
    )
    expected = (
        Decimal(1000) * 3 + Decimal(200) * 15 + Decimal(10000) * Decimal("0.30") + 2000 * Decimal("3.75")
    ) / 10**6
    assert cost == expected.quantize(Decimal("0.000001"))


def test_dated_model_ids_price_by_family_and_unknown_models_price_high():
    assert price_for("claude-sonnet-4-20250514") == PRICES["claude-sonnet-4"]
    assert price_for("claude-opus-4-5-20251101") == PRICES["claude-opus-4-5"]
    assert price_for("claude-sonnet-4-6") == PRICES["claude-sonnet-4-6"]
    unknown = price_for("some-future-model")
    assert unknown.output == max(p.output for p in PRICES.values())


def test_call_settings_follow_the_spec_and_env_overrides(monkeypatch):
    decision = call_settings("bouncer", "decision")
    reply = call_settings("bouncer", "reply")
    assert (decision.temperature, decision.max_tokens) == (0.1, 500)
    assert (reply.temperature, reply.max_tokens) == (0.7, 300)
    assert call_settings("concierge", "summary").max_tokens == 500
    monkeypatch.setenv("ANTHROPIC_MODEL", "claude-haiku-4-5")
    monkeypatch.setenv(
        "LLM_OVERRIDES", '{"bouncer.reply": {"temperature": 0.5}, "*.summary": {"max_tokens": 400}}'
    )
    config.reset_settings_cache()
    assert call_settings("bouncer", "reply").temperature == 0.5
    assert call_settings("bouncer", "reply").model == "claude-haiku-4-5"
    assert call_settings("bouncer", "summary").max_tokens == 400


def test_cache_breakpoints_sit_on_last_tool_system_and_profile_only():
    params = build_params(_request(), call_settings("bouncer", "decision"))
    system = params["system"]
    assert [b["text"] for b in system] == ["static system prompt", "profile block", "this turn's guidance"]
    assert [("cache_control" in b) for b in system] == [True, True, False]
    assert [("cache_control" in t) for t in params["tools"]] == [False, True]
    assert params["tool_choice"] == {"type": "tool", "name": "make_decision"}
    assert params["extra_body"] == {"temperature": 0.1}
    assert "cache_control" not in str(params["messages"])


def test_empty_blocks_are_left_out_and_unknown_forced_tool_is_refused():
    params = build_params(
        _request(stable_context="", dynamic_context=""), call_settings("bouncer", "decision")
    )
    assert len(params["system"]) == 1
    with pytest.raises(ValueError, match="force_tool"):
        build_params(_request(force_tool="nope"), call_settings("bouncer", "decision"))


def test_scripted_llm_validates_tool_arguments_like_the_real_adapter():
    log = InMemoryCallLog()
    llm = ScriptedLlm(call_log=log)
    llm.decision("make_decision", next_scenario="ask_for_name")
    llm.decision("make_decision", first_name=["not", "a", "string"])
    llm.push(ScriptedReply(tool_uses=[("delete_everything", {})]))
    llm.push(LlmUnavailable("overloaded", reason="overloaded"))
    good = llm.complete(_request())
    bad = llm.complete(_request())
    unknown = llm.complete(_request())
    call = good.tool_call("make_decision")
    assert call is not None and call.arguments == Decision(next_scenario="ask_for_name")
    assert bad.tool_calls == [] and "next_scenario" in bad.invalid_tool_calls[0].error
    assert unknown.invalid_tool_calls[0].error == "unknown tool 'delete_everything'"
    with pytest.raises(LlmUnavailable):
        llm.complete(_request())
    assert [r.error is None for r in log.records] == [True, True, True, False]
    assert len(llm.requests) == 4


def test_scripted_usage_is_priced():
    llm = ScriptedLlm(
        ScriptedReply(text="hi", usage=Usage(input_tokens=10, output_tokens=10, cache_read_tokens=1000))
    )
    response = llm.complete(_request(tools=(), force_tool=None))
    assert response.cost_usd == cost_usd(
        "claude-sonnet-4-6", input_tokens=10, output_tokens=10, cache_read_tokens=1000, cache_write_tokens=0
    )
