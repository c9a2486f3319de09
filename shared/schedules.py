"""The scheduler jobs: what Cloud Scheduler calls in production and the local stack's
scheduler loop calls locally, at the same cadence (decisions A2).

Each job POSTs ``body`` (JSON) to its function. In production the call carries an OIDC
token for the scheduler's service account; locally it carries the HMAC signature instead.
Jobs whose function has not been built yet are listed with ``planned=True``: the local
stack skips them and Terraform creates them only once the function exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from shared.domain.constants import (
    ACCOUNT_MANAGER_REVIEW_EVERY,
    COMMUNITY_CLOSURE_EVERY,
    EVENT_SWEEP_EVERY,
    ORCHESTRATOR_TICK_EVERY,
    SMS_SENDER_SWEEP_EVERY,
    TASK_SWEEP_EVERY,
)

ACCOUNT_MANAGER_REVIEW_JOB = "account_manager_review"
INTRO_EXPIRY_JOB = "intro_expiry"  # expired intro-flow rows and 3-day offer reminders (issue 12)


def _seconds(every: timedelta) -> int:
    return int(every.total_seconds())


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    function: str  # folder under functions/
    cron: str  # Cloud Scheduler schedule (unix-cron), in time_zone
    every_seconds: int  # the same cadence for the local scheduler loop
    body: dict[str, Any] = field(default_factory=dict)
    time_zone: str = "Etc/UTC"
    planned: bool = False


SCHEDULED_JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        "event-sweep", "event_dispatcher", "* * * * *", _seconds(EVENT_SWEEP_EVERY), {"sweep": True}
    ),
    ScheduledJob("task-sweep", "task_sweeper", "* * * * *", _seconds(TASK_SWEEP_EVERY), {"sweep": True}),
    ScheduledJob(
        "orchestrator-tick",
        "message_orchestrator",
        "* * * * *",
        _seconds(ORCHESTRATOR_TICK_EVERY),
        {"sweep": True},
    ),
    ScheduledJob(
        "sms-sender-sweep", "sms_sender", "*/5 * * * *", _seconds(SMS_SENDER_SWEEP_EVERY), {"sweep": True}
    ),
    # The review schedules one account_manager_review task per member with news; the sweeper
    # publishes them to agent_account_manager, a Pub/Sub-pushed function (agents.md §6).
    ScheduledJob(
        "account-manager-review",
        "task_sweeper",
        "0 */6 * * *",
        _seconds(ACCOUNT_MANAGER_REVIEW_EVERY),
        {"job": ACCOUNT_MANAGER_REVIEW_JOB},
    ),
    ScheduledJob("intro-expiry", "task_sweeper", "15 * * * *", 3600, {"job": INTRO_EXPIRY_JOB}),
    ScheduledJob(
        "community-request-closure",
        "community_closer",
        "0 * * * *",
        _seconds(COMMUNITY_CLOSURE_EVERY),
        {"job": "close_expired_requests"},
        time_zone="America/Los_Angeles",
    ),
    ScheduledJob("retention", "retention", "30 3 * * *", 86400, {"job": "retention"}),
)


def active_jobs() -> list[ScheduledJob]:
    return [job for job in SCHEDULED_JOBS if not job.planned]
