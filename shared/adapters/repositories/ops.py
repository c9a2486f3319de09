"""Read models across aggregates for operators and alerts (``ops.sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.domain.alerts import SignalFigures
from shared.domain.constants import (
    DAILY_LLM_COST_WINDOW,
    DEAD_LETTER_ALERT_WINDOW,
    DELIVERY_FAILURE_WINDOW,
    LLM_LATENCY_WINDOW,
    TWILIO_ERROR_UNSUBSCRIBED,
)


@dataclass(frozen=True)
class Backlog:
    name: str
    depth: int
    oldest_age_seconds: float  # 0 when empty


@dataclass(frozen=True)
class MemberSnapshot:
    """What one member's turns left behind (``ops_member_snapshot``): rows as plain dicts."""

    events: list[dict[str, Any]]
    community_requests: list[dict[str, Any]]
    community_responses: list[dict[str, Any]]
    priorities: list[dict[str, Any]]
    outbound: list[dict[str, Any]]
    queued: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    intros: list[dict[str, Any]]
    innovator: dict[str, Any] | None
    goal: str | None
    verified: bool
    poc_agent_type: str | None
    credit_balance: int


class OpsRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def backlogs(self) -> list[Backlog]:
        """Depth and oldest age of every backlog the alerts watch."""
        return [
            Backlog(str(r["backlog"]), int(r["depth"]), float(r["oldest_age_seconds"]))
            for r in self._sql.all("ops_backlogs")
        ]

    def member_export(self, user_id: UUID) -> dict[str, Any] | None:
        """What we hold about one member, for their data request (``ops_member_export``)."""
        row = self._sql.one("ops_member_export", user_id=user_id)
        return None if row is None else dict(row)

    def member_snapshot(self, user_id: UUID) -> MemberSnapshot | None:
        """The member's final state across aggregates (the member evals grade it)."""
        row = self._sql.one("ops_member_snapshot", user_id=user_id)
        if row is None:
            return None
        return MemberSnapshot(
            events=list(row["events"]),
            community_requests=list(row["community_requests"]),
            community_responses=list(row["community_responses"]),
            priorities=list(row["priorities"]),
            outbound=list(row["outbound"]),
            queued=list(row["queued"]),
            turns=list(row["turns"]),
            tasks=list(row["tasks"]),
            intros=list(row["intros"]),
            innovator=row["innovator"],
            goal=row["goal"],
            verified=bool(row["verified"]),
            poc_agent_type=row["poc_agent_type"],
            credit_balance=int(row["credit_balance"]),
        )

    def signal_figures(self) -> SignalFigures:
        """What the database shows for each platform §7.6 signal (``shared.domain.alerts.judge``)."""
        row = self._sql.one(
            "ops_alert_signals",
            delivery_window=DELIVERY_FAILURE_WINDOW,
            opt_out_code=TWILIO_ERROR_UNSUBSCRIBED,
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
