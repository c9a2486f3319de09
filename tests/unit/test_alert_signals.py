"""ops status judges each platform 7.6 signal against its threshold: each side of every one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.alerts import SignalFigures, judge
from shared.domain.constants import (
    BACKLOG_AGE_ALERT,
    DAILY_LLM_COST_ALERT_USD,
    DEAD_LETTER_ALERT_DEPTH,
    DELIVERY_FAILURE_MIN_OUTCOMES,
    LLM_LATENCY_P99_ALERT,
    SINGLE_LLM_CALL_ALERT_USD,
)

QUIET = SignalFigures(
    backlog_ages={name: 0.0 for name in BACKLOG_AGE_ALERT},
    sms_outcomes=0,
    sms_failures=0,
    llm_cost_usd=0.0,
    llm_max_call_usd=None,
    llm_p99_ms=None,
    dead_letters_recent=0,
)


def breached(figures: SignalFigures) -> set[str]:
    return {r.signal for r in judge(figures) if r.breached}


def test_a_quiet_system_breaches_nothing_and_shows_every_signal():
    readings = judge(QUIET)
    assert not any(r.breached for r in readings)
    assert len(readings) == len(BACKLOG_AGE_ALERT) + 5


@pytest.mark.parametrize("name", sorted(BACKLOG_AGE_ALERT))
def test_each_backlog_alerts_only_past_its_age(name):
    limit = BACKLOG_AGE_ALERT[name].total_seconds()
    at_limit = replace(QUIET, backlog_ages={**QUIET.backlog_ages, name: limit})
    over = replace(QUIET, backlog_ages={**QUIET.backlog_ages, name: limit + 1})
    assert breached(at_limit) == set()
    assert breached(over) == {f"backlog {name}: oldest"}


def test_delivery_failures_over_five_percent_of_at_least_twenty():
    n = 100
    assert breached(replace(QUIET, sms_outcomes=n, sms_failures=5)) == set()  # exactly 5 %
    assert breached(replace(QUIET, sms_outcomes=n, sms_failures=6)) == {"SMS delivery failures"}
    few = DELIVERY_FAILURE_MIN_OUTCOMES - 1
    assert breached(replace(QUIET, sms_outcomes=few, sms_failures=few)) == set()  # too few to judge
    enough = DELIVERY_FAILURE_MIN_OUTCOMES
    assert breached(replace(QUIET, sms_outcomes=enough, sms_failures=2)) == {"SMS delivery failures"}


def test_dead_letters_more_than_ten_a_day():
    assert breached(replace(QUIET, dead_letters_recent=DEAD_LETTER_ALERT_DEPTH)) == set()
    assert breached(replace(QUIET, dead_letters_recent=DEAD_LETTER_ALERT_DEPTH + 1)) == {
        "dead letters recorded (1 day)"
    }


def test_llm_cost_single_call_and_latency():
    assert breached(replace(QUIET, llm_cost_usd=DAILY_LLM_COST_ALERT_USD)) == set()
    assert breached(replace(QUIET, llm_cost_usd=DAILY_LLM_COST_ALERT_USD + 0.01)) == {"LLM cost (24 h)"}
    assert breached(replace(QUIET, llm_max_call_usd=SINGLE_LLM_CALL_ALERT_USD)) == set()
    assert breached(replace(QUIET, llm_max_call_usd=SINGLE_LLM_CALL_ALERT_USD + 0.01)) == {
        "single LLM call (24 h)"
    }
    limit_ms = LLM_LATENCY_P99_ALERT.total_seconds() * 1000
    assert breached(replace(QUIET, llm_p99_ms=limit_ms)) == set()
    assert breached(replace(QUIET, llm_p99_ms=limit_ms + 1)) == {"LLM latency p99 (15 min)"}
