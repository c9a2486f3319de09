"""user_message_budget: proactive sends counted per user and local date (decisions B1, B2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.domain.constants import DAILY_PROACTIVE_LIMIT, HOURLY_PROACTIVE_LIMIT


@dataclass(frozen=True)
class Budget:
    date: date | None  # None: the user has no budget row yet (defaults apply)
    messages_sent: int = 0
    daily_limit: int = DAILY_PROACTIVE_LIMIT
    hourly_limit: int = HOURLY_PROACTIVE_LIMIT
    quiet_hours_enabled: bool = True


class BudgetRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def for_date(self, user_id: UUID, local_date: date) -> Budget:
        """The row of ``local_date``, else the user's latest (it carries their overrides)."""
        row = self._sql.one("budgets_for_date", user_id=user_id, date=local_date)
        if row is None:
            return Budget(date=None)
        return Budget(
            date=row["date"],
            messages_sent=row["messages_sent"],
            daily_limit=row["daily_limit"],
            hourly_limit=row["hourly_limit"],
            quiet_hours_enabled=row["quiet_hours_enabled"],
        )

    def count_send(self, user_id: UUID, local_date: date, now: datetime, limits: Budget) -> int:
        """Count one budgeted send unit on ``local_date``; returns the day's count."""
        return int(
            self._sql.scalar(
                "budgets_count_send",
                user_id=user_id,
                date=local_date,
                now=now,
                daily_limit=limits.daily_limit,
                hourly_limit=limits.hourly_limit,
                quiet_hours_enabled=limits.quiet_hours_enabled,
            )
        )
