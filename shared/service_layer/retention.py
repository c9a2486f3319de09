"""Retention (platform §6.6, issue 15 §4): the daily job that keeps the hot tables small.

Rules, each counted back from ``now`` (the caller's clock, so tests control it):

- ``events``: processed events, 90 days after processing; archived, deleted. Never an
  unprocessed event, nor one an unreplayed dead letter names.
- ``agent_tasks``: completed and failed tasks, 30 days after finishing; archived, deleted. Never
  a pending or processing task, nor a failed task an unreplayed dead letter would requeue.
- ``event_dead_letters``: replayed dead letters, 90 days after the replay; archived, deleted.
  Never an unreplayed one.
- ``agent_actions_log``: 1 year (``RETENTION_ACTION_LOG_DAYS``); archived, deleted.
- ``processed_deliveries``: the Pub/Sub retention window plus a day; deleted.
- ``messages``: 1 year (``RETENTION_MESSAGE_DAYS``); purged. Never an outbound row still
  pending or sending.

Each batch (``RETENTION_BATCH`` rows, taken with SKIP LOCKED) is one statement in its own short
transaction: no long lock, and a run that dies part-way leaves consistent tables (the next run
carries on). A run does at most ``RETENTION_MAX_BATCHES_PER_RULE`` batches per rule; a larger
backlog is worked off over the following days (``complete`` is false in the report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.adapters.repositories.retention import RETENTION_QUERIES
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.config import get_settings
from shared.domain.constants import (
    ACTION_LOG_RETENTION,
    COMPLETED_TASK_RETENTION,
    DEAD_LETTER_RETENTION,
    EVENT_RETENTION,
    MESSAGE_RETENTION,
    PROCESSED_DELIVERY_RETENTION,
    RETENTION_BATCH,
    RETENTION_MAX_BATCHES_PER_RULE,
)
from shared.logs import get_logger

log = get_logger(__name__)

RETENTION_JOB = "retention"
UowFactory = Callable[[], PostgresUnitOfWork]


def retention_periods() -> dict[str, timedelta]:
    """How long each rule keeps its rows; the action log and message history are configurable."""
    settings = get_settings()
    return {
        "events": EVENT_RETENTION,
        "agent_tasks": COMPLETED_TASK_RETENTION,
        "event_dead_letters": DEAD_LETTER_RETENTION,
        "agent_actions_log": _days(settings.retention_action_log_days, ACTION_LOG_RETENTION),
        "processed_deliveries": PROCESSED_DELIVERY_RETENTION,
        "messages": _days(settings.retention_message_days, MESSAGE_RETENTION),
    }


def _days(configured: int | None, default: timedelta) -> timedelta:
    return default if configured is None else timedelta(days=configured)


@dataclass
class RetentionReport:
    removed: dict[str, int] = field(default_factory=dict)
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    complete: bool = True  # False: some rule hit its batch cap and has more to do

    def as_dict(self) -> dict[str, Any]:
        return {
            "removed": dict(self.removed),
            "cutoffs": {rule: at.isoformat() for rule, at in self.cutoffs.items()},
            "complete": self.complete,
        }


def parse_retention_job(body: bytes) -> str:
    """``{}`` (the scheduler), ``{"job": "retention"}`` or ``{"sweep": true}``; anything else: ValueError."""
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ValueError("body is not JSON") from None
    if data in ({}, {"sweep": True}, {"job": RETENTION_JOB}):
        return RETENTION_JOB
    raise ValueError(f'expected {{}} or {{"job": "{RETENTION_JOB}"}}')


def run_retention(
    uow_factory: UowFactory,
    *,
    now: datetime,
    batch: int = RETENTION_BATCH,
    max_batches: int = RETENTION_MAX_BATCHES_PER_RULE,
) -> RetentionReport:
    """Archive, then delete, what every rule lets go of as of ``now``."""
    report = RetentionReport()
    periods = retention_periods()
    for rule in RETENTION_QUERIES:
        cutoff = now - periods[rule]
        report.cutoffs[rule] = cutoff
        removed = 0
        for _ in range(max_batches):
            with uow_factory() as uow:
                n = uow.retention.remove_batch(rule, cutoff=cutoff, batch=batch)
                uow.commit()
            removed += n
            if n < batch:
                break
        else:
            report.complete = False
        report.removed[rule] = removed
    log.info(
        "retention run",
        extra={"removed": report.removed, "complete": report.complete, "retention_outcome": "ran"},
    )
    return report
