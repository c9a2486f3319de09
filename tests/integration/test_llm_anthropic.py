"""The real anthropic SDK against the loopback Messages API, and the cost ledger in real Postgres."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from shared import config
from shared.adapters.llm import (
    AnthropicLlm,
    CallLog,
    Llm,
    LlmRequest,
    LlmUnavailable,
    PostgresCallLog,
    ToolSpec,
    build_client,
    build_llm,
)
from shared.adapters.llm_prices import cost_usd
from shared.agents.llm_config import call_settings
from shared.config import Settings
from tests.deps_support import FAKE_ANTHROPIC_KEY, anthropic_llm, composed_llm
from tests.fakes.llm import InMemoryCallLog
from tools.fakes.anthropic_api import AnthropicFake, FakeDelay, FakeError, FakeReply

pytestmark = pytest.mark.integration


class Decision(pydantic.BaseModel):
    next_scenario: str
    first_name: str | None = pydantic.Field(default=None, max_length=100)


DECIDE = ToolSpec("make_decision", "Record the decision for this turn.", Decision)
SYSTEM = "You are the bouncer. " * 400  # ~2,000 tokens: over the minimum cacheable prefix


def _llm(fake: AnthropicFake, call_log: CallLog | None = None) -> Llm:
    """The real adapter on the loopback fake, its calls to ``call_log`` (default: Postgres)."""
    return anthropic_llm(fake.base_url, call_log=call_log)


def _request(user_id: Any = None, **kw: Any) -> LlmRequest:
    base: dict[str, Any] = dict(
        agent="bouncer",
        call_kind="decision",
        settings=call_settings("bouncer", "decision"),
        system=SYSTEM,
        stable_context="USER PROFILE\n- First name: (unknown)",
        dynamic_context="Scenario hint: first message.",
        messages=[{"role": "user", "content": "hey"}],
        tools=[DECIDE],
        force_tool="make_decision",
        user_id=user_id,
    )
    base.update(kw)
    return LlmRequest(**base)


def test_no_key_means_no_llm():
    assert composed_llm() is None
    assert build_llm(Settings(anthropic_api_key=None), InMemoryCallLog()) is None


def test_the_fixture_hands_the_real_adapter_to_the_composition_root(anthropic_fake, db):
    llm = composed_llm()
    assert isinstance(llm, AnthropicLlm)
    anthropic_fake.reply("hello")
    assert llm.complete(_request(tools=(), force_tool=None, call_kind="reply")).text == "hello"
    headers = anthropic_fake.requests[0].headers
    assert FAKE_ANTHROPIC_KEY in (headers.get("x-api-key") or headers.get("authorization") or "")


def test_build_llm_makes_the_real_adapter_from_explicit_settings(anthropic_fake):
    settings = Settings(
        anthropic_api_key=pydantic.SecretStr("k"),
        anthropic_base_url=anthropic_fake.base_url,
        anthropic_timeout_seconds=5,
        anthropic_max_retries=1,
    )
    llm = build_llm(settings, InMemoryCallLog())
    assert isinstance(llm, AnthropicLlm)
    anthropic_fake.reply("from settings")
    assert llm.complete(_request(tools=(), force_tool=None, call_kind="reply")).text == "from settings"


def test_tool_use_decision_is_parsed_into_the_pydantic_model(anthropic_fake):
    anthropic_fake.tool_use("make_decision", {"next_scenario": "ask_for_name", "first_name": "Ana"})
    response = _llm(anthropic_fake, InMemoryCallLog()).complete(_request())
    call = response.tool_call("make_decision")
    assert call is not None and call.arguments == Decision(next_scenario="ask_for_name", first_name="Ana")
    assert call.id.startswith("toolu_") and response.stop_reason == "tool_use"
    sent = anthropic_fake.requests[0]
    credentials = sent.headers.get("x-api-key") or sent.headers.get("authorization", "")
    assert credentials.endswith("test-key-for-the-local-fake") and "anthropic-version" in sent.headers
    assert sent.body["tool_choice"] == {"type": "tool", "name": "make_decision"}
    assert sent.body["temperature"] == 0.1 and sent.body["max_tokens"] == 500
    assert sent.body["tools"][0]["input_schema"]["required"] == ["next_scenario"]


def test_cache_control_reaches_the_wire_on_the_right_blocks(anthropic_fake):
    anthropic_fake.tool_use("make_decision", {"next_scenario": "x"})
    _llm(anthropic_fake, InMemoryCallLog()).complete(_request())
    body = anthropic_fake.requests[0].body
    assert [b.get("cache_control") for b in body["system"]] == [
        {"type": "ephemeral"},
        {"type": "ephemeral"},
        None,
    ]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in json.dumps(m) for m in body["messages"])


def test_malformed_tool_arguments_become_invalid_calls_never_executed(anthropic_fake):
    anthropic_fake.tool_use("make_decision", {"first_name": "x" * 500})
    anthropic_fake.tool_use("drop_tables", {"now": True})
    llm = _llm(anthropic_fake, InMemoryCallLog())
    bad = llm.complete(_request())
    unknown = llm.complete(_request())
    assert bad.tool_calls == [] and bad.tool_call("make_decision") is None
    assert (
        "next_scenario" in bad.invalid_tool_calls[0].error and "first_name" in bad.invalid_tool_calls[0].error
    )
    assert unknown.tool_calls == [] and unknown.invalid_tool_calls[0].name == "drop_tables"


def test_second_call_reads_the_cached_prefix_and_cost_uses_the_price_table(anthropic_fake):
    anthropic_fake.tool_use("make_decision", {"next_scenario": "x"})
    anthropic_fake.tool_use("make_decision", {"next_scenario": "y"})
    llm = _llm(anthropic_fake, InMemoryCallLog())
    first = llm.complete(_request())
    second = llm.complete(_request(messages=[{"role": "user", "content": "Ben sent me"}]))
    assert first.usage.cache_write_tokens > 1024 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert second.usage.cache_write_tokens == 0
    for r in (first, second):
        assert r.cost_usd == cost_usd(
            "claude-sonnet-4-6",
            input_tokens=r.usage.input_tokens,
            output_tokens=r.usage.output_tokens,
            cache_read_tokens=r.usage.cache_read_tokens,
            cache_write_tokens=r.usage.cache_write_tokens,
        )
    assert second.cost_usd < first.cost_usd


def test_timeout_raises_llm_unavailable_after_the_sdks_retries(anthropic_fake):
    client = build_client("k", anthropic_fake.base_url, timeout=0.3, max_retries=1)
    log = InMemoryCallLog()
    anthropic_fake.push(FakeDelay(1.5, FakeReply(text="late")), FakeDelay(1.5, FakeReply(text="late")))
    with pytest.raises(LlmUnavailable) as caught:
        AnthropicLlm(client, log).complete(_request())
    assert caught.value.reason == "timeout"
    assert len(anthropic_fake.requests) == 2  # the first try and one retry
    assert log.records[0].error and "timeout" in log.records[0].error


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        (529, "overloaded_error", "overloaded"),
        (500, "api_error", "server_error"),
        (429, "rate_limit_error", "rate_limited"),
    ],
)
def test_overload_and_server_errors_are_retried_then_unavailable(anthropic_fake, status, kind, reason):
    anthropic_fake.error(status, kind)
    anthropic_fake.error(status, kind)
    with pytest.raises(LlmUnavailable) as caught:
        _llm(anthropic_fake, InMemoryCallLog()).complete(_request())
    assert caught.value.reason == reason
    assert len(anthropic_fake.requests) == 2


def test_a_retry_that_succeeds_is_a_normal_answer(anthropic_fake):
    anthropic_fake.error(529, "overloaded_error")
    anthropic_fake.tool_use("make_decision", {"next_scenario": "x"})
    assert _llm(anthropic_fake, InMemoryCallLog()).complete(_request()).tool_call("make_decision") is not None


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("retry_after", "3600"),
        ("retry_after", "Fri, 31 Dec 2100 23:59:59 GMT"),
        ("retry_after_ms", 3_600_000),
    ],
)
def test_a_retry_after_of_hours_is_waited_out_only_up_to_the_cap(anthropic_fake, monkeypatch, header, value):
    """The SDK waits out the API's retry-after as given, with no bound of its own: uncut, these
    would hold the call for an hour and more (pytest-timeout would end the test). The client
    build_client makes cuts each to LLM_RETRY_AFTER_MAX (a few ms here), so the retries go on."""
    from datetime import timedelta

    from shared.adapters import llm

    monkeypatch.setattr(llm, "LLM_RETRY_AFTER_MAX", timedelta(milliseconds=20))
    client = build_client(
        f"k-retry-after-{header}-{value}", anthropic_fake.base_url, timeout=5, max_retries=2
    )
    error: dict[str, Any] = {"retry_after_ms": None, header: value}
    anthropic_fake.push(
        FakeError(429, "rate_limit_error", **error),
        FakeError(429, "rate_limit_error", **error),
        FakeReply(text="answered after two capped waits"),
    )
    answer = AnthropicLlm(client, InMemoryCallLog()).complete(_request())
    assert answer.text == "answered after two capped waits"
    assert len(anthropic_fake.requests) == 3


def _user(db: Any) -> Any:
    row = db.execute("INSERT INTO users (phone_number) VALUES ('+14155550123') RETURNING id").fetchone()
    return row["id"]


def test_ledger_rows_on_success_and_error_in_postgres(anthropic_fake, db):
    user_id = _user(db)
    db.execute("INSERT INTO agent_instances (agent_type, prompt_version) VALUES ('bouncer', 'bouncer-v7')")
    anthropic_fake.tool_use("make_decision", {"next_scenario": "ask_for_name"})
    anthropic_fake.error(529, "overloaded_error")
    anthropic_fake.error(529, "overloaded_error")
    llm = _llm(anthropic_fake)  # the default sink: PostgresCallLog on DATABASE_URL's pool
    ok = llm.complete(_request(user_id=user_id))
    with pytest.raises(LlmUnavailable):
        llm.complete(_request(user_id=user_id))
    rows = db.execute(
        "SELECT * FROM agent_actions_log WHERE user_id = %s AND action_type = 'llm_call'"
        " ORDER BY created_at, error NULLS FIRST",
        (user_id,),
    ).fetchall()
    assert len(rows) == 2
    good, failed = rows
    assert good["agent_type"] == "bouncer" and good["model"] == "claude-sonnet-4-6"
    assert good["input_tokens"] == ok.usage.input_tokens
    assert good["cache_write_tokens"] == ok.usage.cache_write_tokens
    assert good["output_tokens"] == ok.usage.output_tokens
    assert good["cost_usd"] == ok.cost_usd and good["cost_usd"] > Decimal(0)
    assert good["prompt_version"] == "bouncer-v7" and good["agent_instance_id"] is not None
    assert good["output_data"]["tool_calls"][0]["arguments"]["next_scenario"] == "ask_for_name"
    assert good["input_data"]["messages"] == [{"role": "user", "content": "hey"}]
    assert good["error"] is None
    assert "overloaded" in failed["error"] and failed["cost_usd"] == 0 and failed["output_data"] is None


def test_ledger_write_failure_never_fails_the_call(anthropic_fake, database_url, monkeypatch):
    anthropic_fake.reply("fine")
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    config.reset_settings_cache()
    llm = _llm(anthropic_fake, PostgresCallLog("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"))
    assert llm.complete(_request(tools=(), force_tool=None, call_kind="reply")).text == "fine"
