"""The one maintained price table for Anthropic models, in USD per million tokens.

Update this file, and only this file, when Anthropic changes its list prices; then update
``PRICES_CHECKED_ON``. Cache writes are priced at the 5-minute TTL rate (the TTL this
project uses by default); a 1-hour write costs twice the input price, per the provider's prompt
caching page, for every model. Dated model ids (``claude-sonnet-4-5-20250929``) are priced by their family
prefix. A model missing from the table is priced at the most expensive row, with a warning,
so an unknown model over-reports cost rather than hiding it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from shared.logs import get_logger

log = get_logger(__name__)

PRICES_CHECKED_ON = date(2026, 11, 25)  # against the provider's public pricing page
PRICE_SOURCE = "Anthropic's public pricing page (model pricing, prompt caching)"
_PER_MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.000001")  # agent_actions_log.cost_usd is DECIMAL(10,6)


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal  # 5-minute TTL write


def _p(inp: str, out: str, read: str, write: str) -> ModelPrice:
    return ModelPrice(Decimal(inp), Decimal(out), Decimal(read), Decimal(write))


# Longest matching prefix wins; keep families from the most to the least specific.
PRICES: dict[str, ModelPrice] = {
    "claude-sonnet-5-5": _p("2", "10", "0.10", "2.50"),  # cache read cut to 0.05x on 2026-10-07
    "claude-sonnet-5": _p("2", "10", "0.20", "2.50"),
    "claude-sonnet-4-6": _p("3", "15", "0.30", "3.75"),
    "claude-sonnet-4-5": _p("3", "15", "0.30", "3.75"),
    "claude-sonnet-4": _p("3", "15", "0.30", "3.75"),  # claude-sonnet-4-20250514, the original's model
    "claude-haiku-5-5": _p("0.10", "0.50", "0.01", "0.125"),  # prompts up to 100k tokens
    "claude-haiku-4-5": _p("1", "5", "0.10", "1.25"),
    "claude-opus-5-5": _p("4", "20", "0.20", "5"),
    "claude-opus-5": _p("5", "25", "0.50", "6.25"),
    "claude-opus-4-8": _p("5", "25", "0.50", "6.25"),
    "claude-opus-4-7": _p("5", "25", "0.50", "6.25"),
    "claude-opus-4-6": _p("5", "25", "0.50", "6.25"),
    "claude-opus-4-5": _p("5", "25", "0.50", "6.25"),
    "claude-opus-4-1": _p("15", "75", "1.50", "18.75"),
    "claude-opus-4": _p("15", "75", "1.50", "18.75"),
}

# The web search server tool is billed per search on top of tokens: USD 10 per 1,000 searches.
WEB_SEARCH_USD_PER_SEARCH = Decimal("0.01")

_MOST_EXPENSIVE = max(PRICES.values(), key=lambda p: (p.output, p.input))


def price_for(model: str) -> ModelPrice:
    """The price row for a model id (dated ids match their family)."""
    best = ""
    for prefix in PRICES:
        if (model == prefix or model.startswith(prefix + "-")) and len(prefix) > len(best):
            best = prefix
    if best:
        return PRICES[best]
    log.warning("unpriced model, costed at the most expensive row", extra={"model": model})
    return _MOST_EXPENSIVE


CACHE_WRITE_1H_MULTIPLIER = Decimal(2)  # a 1-hour cache write, times the input price


def cost_usd(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    cache_write_1h_tokens: int = 0,
    web_search_requests: int = 0,
) -> Decimal:
    """List-price cost of one call. ``input_tokens`` excludes cached tokens, as the API reports it;
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with the 1-hour TTL;
    web searches are billed per search (``WEB_SEARCH_USD_PER_SEARCH``)."""
    price = price_for(model)
    write_1h = min(max(cache_write_1h_tokens, 0), cache_write_tokens)
    total = (
        Decimal(input_tokens) * price.input
        + Decimal(output_tokens) * price.output
        + Decimal(cache_read_tokens) * price.cache_read
        + Decimal(cache_write_tokens - write_1h) * price.cache_write
        + Decimal(write_1h) * price.input * CACHE_WRITE_1H_MULTIPLIER
    ) / _PER_MILLION + Decimal(web_search_requests) * WEB_SEARCH_USD_PER_SEARCH
    return total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
