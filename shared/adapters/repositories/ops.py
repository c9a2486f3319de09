"""Read models across aggregates for operators and alerts (``ops.sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql


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
