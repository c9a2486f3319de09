"""Backlog reports: one structured log line per backlog on every tick (platform.md §7.6).

The log-based alert metrics read ``backlog``, ``backlog_depth`` and
``backlog_oldest_age_seconds`` from these lines (terraform/modules/platform/observability.tf;
docs/operating.md, "Alerts"). Each sweep reports the backlogs it owns, so a backlog whose sweep
has stopped shows in ``ops status`` rather than in a stale metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.adapters.repositories.ops import Backlog
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.logs import get_logger

log = get_logger(__name__)

BACKLOGS = ("events", "agent_tasks", "message_queue", "sms_sending", "sms_pending")


__all__ = ["BACKLOGS", "Backlog", "read_backlogs", "report_backlogs"]


def read_backlogs(uow_factory: Callable[[], PostgresUnitOfWork]) -> dict[str, Backlog]:
    with uow_factory() as uow:
        return {b.name: b for b in uow.ops.backlogs()}


def report_backlogs(uow_factory: Callable[[], PostgresUnitOfWork], owned: Iterable[str]) -> None:
    """Log one line per owned backlog. Never fails the caller: a report is not the work."""
    try:
        backlogs = read_backlogs(uow_factory)
    except Exception:
        log.exception("could not read the backlogs")
        return
    for name in owned:
        b = backlogs[name]
        log.info(
            "backlog",
            extra={
                "backlog": name,
                "backlog_depth": b.depth,
                "backlog_oldest_age_seconds": round(b.oldest_age_seconds, 1),
            },
        )
