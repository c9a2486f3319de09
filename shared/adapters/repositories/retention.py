"""Retention (``retention.sql``): archive-then-delete one batch of one table per call."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from shared.adapters.postgres import Sql

# rule name -> its named query; the service runs them in this order.
RETENTION_QUERIES: Final[dict[str, str]] = {
    "events": "retention_events",
    "agent_tasks": "retention_tasks",
    "event_dead_letters": "retention_dead_letters",
    "agent_actions_log": "retention_actions_log",
    "processed_deliveries": "retention_processed_deliveries",
    "messages": "retention_messages",
}


class RetentionRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def remove_batch(self, rule: str, *, cutoff: datetime, batch: int) -> int:
        """Archive (where the rule archives) and delete up to ``batch`` rows older than ``cutoff``."""
        return int(self._sql.scalar(RETENTION_QUERIES[rule], cutoff=cutoff, batch=batch) or 0)
