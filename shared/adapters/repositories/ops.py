"""Read models across aggregates for operators and alerts (``ops.sql``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.postgres import Sql


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
