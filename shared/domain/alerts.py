"""The platform §7.6 alert signals, judged against their thresholds (``ops status``).

Cloud Monitoring evaluates the same thresholds from the log-based metrics
(terraform/modules/platform/observability.tf); this module judges what the database shows, so
an operator sees each signal next to its threshold without the console. Pure: the caller reads
the figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.constants import (
    BACKLOG_AGE_ALERT,
    DAILY_LLM_COST_ALERT_USD,
    DEAD_LETTER_ALERT_DEPTH,
    DELIVERY_FAILURE_MIN_OUTCOMES,
    DELIVERY_FAILURE_RATE_ALERT,
    LLM_LATENCY_P99_ALERT,
    SINGLE_LLM_CALL_ALERT_USD,
)

# The ``sms_outcome`` a log line carries when Twilio reports error 21610 (the member unsubscribed
# at Twilio), whether the send was refused or a status callback says so. An opt-out is the
# member's choice, not a delivery failure: the delivery-failure alert and ``ops status`` both
# leave it out (docs/operating.md).
OPTED_OUT_OUTCOME = "opted_out"


@dataclass(frozen=True)
class SignalFigures:
    """What the database shows for each signal (None: nothing to judge yet)."""

    backlog_ages: dict[str, float]  # backlog -> oldest waiting item, seconds (0 when empty)
    sms_outcomes: int  # SMS handed to Twilio (or refused by it) in the delivery-failure window
    sms_failures: int  # of those, refused, failed or undelivered, opt-outs (21610) left out
    llm_cost_usd: float  # LLM spend in the daily window
    llm_max_call_usd: float | None  # the dearest single call in the daily window
    llm_p99_ms: float | None  # p99 latency of the model calls in the latency window
    dead_letters_recent: int  # dead letters recorded in the dead-letter window


@dataclass(frozen=True)
class SignalReading:
    signal: str
    value: str  # the current figure, formatted
    threshold: str  # the threshold, formatted
    breached: bool


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def judge(figures: SignalFigures) -> list[SignalReading]:
    """One reading per signal, ``breached`` when the figure is over its threshold."""
    readings = [
        SignalReading(
            f"backlog {name}: oldest",
            _minutes(figures.backlog_ages.get(name, 0.0)),
            f"> {_minutes(limit.total_seconds())}",
            figures.backlog_ages.get(name, 0.0) > limit.total_seconds(),
        )
        for name, limit in BACKLOG_AGE_ALERT.items()
    ]
    rate = figures.sms_failures / figures.sms_outcomes if figures.sms_outcomes else 0.0
    readings.append(
        SignalReading(
            "SMS delivery failures",
            f"{rate:.1%} of {figures.sms_outcomes}",
            f"> {DELIVERY_FAILURE_RATE_ALERT:.0%} (of >= {DELIVERY_FAILURE_MIN_OUTCOMES})",
            figures.sms_outcomes >= DELIVERY_FAILURE_MIN_OUTCOMES and rate > DELIVERY_FAILURE_RATE_ALERT,
        )
    )
    readings.append(
        SignalReading(
            "dead letters recorded (1 day)",
            str(figures.dead_letters_recent),
            f"> {DEAD_LETTER_ALERT_DEPTH}",
            figures.dead_letters_recent > DEAD_LETTER_ALERT_DEPTH,
        )
    )
    readings.append(
        SignalReading(
            "LLM cost (24 h)",
            f"${figures.llm_cost_usd:.2f}",
            f"> ${DAILY_LLM_COST_ALERT_USD}",
            figures.llm_cost_usd > DAILY_LLM_COST_ALERT_USD,
        )
    )
    dearest = figures.llm_max_call_usd
    readings.append(
        SignalReading(
            "single LLM call (24 h)",
            "-" if dearest is None else f"${dearest:.4f}",
            f"> ${SINGLE_LLM_CALL_ALERT_USD:.2f}",
            dearest is not None and dearest > SINGLE_LLM_CALL_ALERT_USD,
        )
    )
    p99 = figures.llm_p99_ms
    limit_ms = LLM_LATENCY_P99_ALERT.total_seconds() * 1000
    readings.append(
        SignalReading(
            "LLM latency p99 (15 min)",
            "-" if p99 is None else f"{p99 / 1000:.1f} s",
            f"> {limit_ms / 1000:.0f} s",
            p99 is not None and p99 > limit_ms,
        )
    )
    return readings


# Signals only Cloud Monitoring or the providers can see: named so the operator knows where.
ELSEWHERE = (
    ("function errors (5xx)", "> 2 %", "Cloud Monitoring: function_errors"),
    ("database query time", "> 1 s", "Cloud Monitoring: slow_db_queries"),
    ("a sweep's backlog reports", "none for 15 min", "Cloud Monitoring: backlog_reports_stopped"),
    ("database CPU", "> 80 % for 5 min", "Supabase dashboard"),
    ("monthly / daily cloud cost", "> $300 / month, > $50 / day", "the billing budget"),
)
