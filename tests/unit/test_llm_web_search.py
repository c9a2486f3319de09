"""The web search server tool end to end: the real ``anthropic`` client against the loopback
Messages API, which answers in the API's format (server_tool_use, web_search_tool_result,
web_search_result_location citations, usage.server_tool_use)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import anthropic
import pytest

from shared.adapters.llm import AnthropicLlm, LlmRequest, ResolvedCall, web_search_tool
from shared.adapters.llm_prices import WEB_SEARCH_USD_PER_SEARCH, cost_usd
from tests.fakes.llm import InMemoryCallLog
from tools.fakes.anthropic_api import WEB_RESULT_INPUT_TOKENS, AnthropicFake, instant_responder

SETTINGS = ResolvedCall("claude-sonnet-4-6", 0.2, 800)


def _request(*, search: bool = True) -> LlmRequest:
    return LlmRequest(
        agent="solution_saga",
        call_kind="web_research",
        system="Search.",
        stable_context="",
        dynamic_context="",
        messages=[{"role": "user", "content": "SOC 2 automation vendors"}],
        settings=SETTINGS,
        server_tools=(web_search_tool(3),) if search else (),
    )


@pytest.fixture
def fake() -> Iterator[AnthropicFake]:
    with AnthropicFake() as f:
        yield f


def _llm(fake: AnthropicFake, log: InMemoryCallLog | None = None) -> AnthropicLlm:
    return AnthropicLlm(anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0), log)


def test_results_citations_and_the_per_search_price(fake: AnthropicFake) -> None:
    fake.web_search(
        "soc 2 automation",
        [("https://vanta.example/", "Vanta"), ("https://drata.example/", "Drata")],
        cited=[("Vanta automates SOC 2.", "https://vanta.example/")],
        text="Two options.",
    )
    log = InMemoryCallLog()
    response = _llm(fake, log).complete(_request())

    assert [(r.url, r.title, r.query) for r in response.web_results] == [
        ("https://vanta.example/", "Vanta", "soc 2 automation"),
        ("https://drata.example/", "Drata", "soc 2 automation"),
    ]
    [citation] = response.citations
    assert (citation.url, citation.cited_text, citation.title) == (
        "https://vanta.example/",
        "Vanta automates SOC 2.",
        "Vanta",
    )
    assert response.usage.web_search_requests == 1
    assert response.usage.input_tokens > 2 * WEB_RESULT_INPUT_TOKENS  # the two results were read
    tokens_only = cost_usd(
        "claude-sonnet-4-6",
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        cache_read_tokens=0,
        cache_write_tokens=0,
    )
    assert response.cost_usd == tokens_only + WEB_SEARCH_USD_PER_SEARCH == tokens_only + Decimal("0.01")
    assert log.records[0].output_data is not None and log.records[0].output_data["web_results"] == [
        "https://vanta.example/",
        "https://drata.example/",
    ]
    body = fake.requests[0].body
    assert body["tools"] == [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]


def test_the_wire_format_is_the_apis(fake: AnthropicFake) -> None:
    fake.web_search("q", [("https://a.example/", "A")], cited=[("A is good.", "https://a.example/")])
    raw: Any = anthropic.Anthropic(api_key="k", base_url=fake.base_url).messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": "q"}],
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
    )
    kinds = [b.type for b in raw.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]
    use, result, cited = raw.content[1], raw.content[2], raw.content[3]
    assert use.id.startswith("srvtoolu_") and use.name == "web_search" and use.input == {"query": "q"}
    assert result.tool_use_id == use.id and isinstance(result.content, list)
    assert result.content[0].type == "web_search_result" and result.content[0].encrypted_content
    assert cited.citations[0].type == "web_search_result_location" and cited.citations[0].encrypted_index
    assert raw.usage.server_tool_use is not None and raw.usage.server_tool_use.web_search_requests == 1


def test_a_search_error_is_an_error_code_not_results(fake: AnthropicFake) -> None:
    fake.web_search("q", error_code="max_uses_exceeded", text="Could not search.")
    response = _llm(fake).complete(_request())
    assert response.web_results == [] and response.web_search_errors == ["max_uses_exceeded"]
    assert response.usage.web_search_requests == 0


def test_a_search_the_request_did_not_offer_is_refused(fake: AnthropicFake) -> None:
    fake.web_search("q", [("https://a.example/", "A")])
    with pytest.raises(Exception, match="not offered"):
        _llm(fake).complete(_request(search=False))


def test_unknown_server_tools_are_a_400_and_the_instant_responder_searches(fake: AnthropicFake) -> None:
    client = anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="unknown server tool"):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=10,
            messages=[{"role": "user", "content": "q"}],
            tools=cast(Any, [{"type": "web_fetch_99", "name": "web_fetch"}]),
        )
    fake.responder = instant_responder
    response = _llm(fake).complete(_request())
    assert len(response.web_results) == 3 and len(response.citations) == 2
