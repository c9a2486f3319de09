"""Read models across aggregates for operators and alerts (``ops.sql``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.postgres import Sql
from shared.domain.alerts import SignalFigures
from shared.domain.constants import (
    DAILY_LLM_COST_WINDOW,
    DEAD_LETTER_ALERT_WINDOW,
    DELIVERY_FAILURE_WINDOW,
    LLM_LATENCY_WINDOW,
)


@dataclass(frozen=True)
class Backlog:
    name: str
    depth: int
    oldest_age_seconds: float  # 0 when empty


class OpsRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def backlogs(self) -> list[Backlog]:
        """Depth and oldest age of every backlog the alerts watch."""
        return [
            Backlog(str(r["backlog"]), int(r["depth"]), float(r["oldest_age_seconds"]))
            for r in self._sql.all("ops_backlogs")
        ]

    def signal_figures(self) -> SignalFigures:
        """What the database shows for each platform §7.6 signal (``shared.domain.alerts.judge``)."""
        row = self._sql.one(
            "ops_alert_signals",
            delivery_window=DELIVERY_FAILURE_WINDOW,
            cost_window=DAILY_LLM_COST_WINDOW,
            latency_window=LLM_LATENCY_WINDOW,
            dead_letter_window=DEAD_LETTER_ALERT_WINDOW,
        )
        assert row is not None
        return SignalFigures(
            backlog_ages={b.name: b.oldest_age_seconds for b in self.backlogs()},
            sms_outcomes=int(row["sms_outcomes"]),
            sms_failures=int(row["sms_failures"]),
            llm_cost_usd=float(row["llm_cost_usd"]),
            llm_max_call_usd=None if row["llm_max_call_usd"] is None else float(row["llm_max_call_usd"]),
            llm_p99_ms=None if row["llm_p99_ms"] is None else float(row["llm_p99_ms"]),
            dead_letters_recent=int(row["dead_letters_recent"]),
        )
