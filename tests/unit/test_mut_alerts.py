"""What ``ops status`` shows for each platform §7.6 signal: the exact figure and threshold text an
operator reads, and every threshold pinned (events 10 min, tasks 10 min, queue 30 min, SMS 15 min;
delivery failures 5 % of at least 20; 10 dead letters a day; $10 a day; $0.50 a call; 10 s p99)."""

from __future__ import annotations

from shared.domain.alerts import ELSEWHERE, SignalFigures, SignalReading, judge


def test_every_reading_shows_its_figure_and_threshold_as_the_operator_reads_them():
    figures = SignalFigures(
        backlog_ages={"events": 90.0, "message_queue": 1800.0},  # the others absent: empty backlogs
        sms_outcomes=40,
        sms_failures=3,
        llm_cost_usd=12.345,
        llm_max_call_usd=0.61234,
        llm_p99_ms=12500.0,
        dead_letters_recent=11,
    )
    assert judge(figures) == [
        SignalReading("backlog events: oldest", "1.5 min", "> 10.0 min", False),
        SignalReading("backlog agent_tasks: oldest", "0.0 min", "> 10.0 min", False),
        SignalReading("backlog message_queue: oldest", "30.0 min", "> 30.0 min", False),
        SignalReading("backlog sms_sending: oldest", "0.0 min", "> 15.0 min", False),
        SignalReading("backlog sms_pending: oldest", "0.0 min", "> 15.0 min", False),
        SignalReading("SMS delivery failures", "7.5% of 40", "> 5% (of >= 20)", True),
        SignalReading("dead letters recorded (1 day)", "11", "> 10", True),
        SignalReading("LLM cost (24 h)", "$12.35", "> $10", True),
        SignalReading("single LLM call (24 h)", "$0.6123", "> $0.50", True),
        SignalReading("LLM latency p99 (15 min)", "12.5 s", "> 10 s", True),
    ]


def test_nothing_to_judge_reads_as_a_dash_and_zero_outcomes_as_no_failures():
    figures = SignalFigures(
        backlog_ages={},
        sms_outcomes=0,
        sms_failures=0,
        llm_cost_usd=0.0,
        llm_max_call_usd=None,
        llm_p99_ms=None,
        dead_letters_recent=0,
    )
    by_signal = {r.signal: r for r in judge(figures)}
    assert by_signal["SMS delivery failures"] == SignalReading(
        "SMS delivery failures", "0.0% of 0", "> 5% (of >= 20)", False
    )
    assert by_signal["single LLM call (24 h)"].value == "-"
    assert by_signal["LLM latency p99 (15 min)"].value == "-"
    assert by_signal["LLM cost (24 h)"].value == "$0.00"


def test_latency_is_shown_in_seconds():
    figures = SignalFigures({}, 0, 0, 0.0, None, 100_000.0, 0)
    latency = next(r for r in judge(figures) if r.signal == "LLM latency p99 (15 min)")
    assert latency == SignalReading("LLM latency p99 (15 min)", "100.0 s", "> 10 s", True)


def test_the_failure_rate_is_failures_over_outcomes_judged_from_twenty():
    def reading(outcomes: int, failures: int) -> SignalReading:
        figures = SignalFigures({}, outcomes, failures, 0.0, None, None, 0)
        return next(r for r in judge(figures) if r.signal == "SMS delivery failures")

    assert reading(20, 1) == SignalReading("SMS delivery failures", "5.0% of 20", "> 5% (of >= 20)", False)
    assert reading(20, 2).breached and reading(20, 2).value == "10.0% of 20"
    assert not reading(19, 19).breached  # too few to judge, however bad
    assert reading(21, 2).breached  # 9.5 %


def test_the_signals_only_the_console_sees_are_named_with_where_to_look():
    assert [name for name, _, _ in ELSEWHERE] == [
        "function errors (5xx)",
        "database query time",
        "a sweep's backlog reports",
        "database CPU",
        "monthly / daily cloud cost",
    ]
    # every Cloud Monitoring policy ops status cannot judge is named with its policy
    where = {place for _, _, place in ELSEWHERE}
    assert "Cloud Monitoring: backlog_reports_stopped" in where
