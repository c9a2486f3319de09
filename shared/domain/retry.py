"""Retry and backoff decisions for outbox events and agent tasks: pure rules, no I/O.

The adapters only persist what these functions decide (procrastinate's habit).

- Events (decisions B6, platform §2): a publish failure is retried with exponential backoff,
  10 s, 20 s, 40 s ... capped at 10 min; after ``EVENT_MAX_PUBLISH_ATTEMPTS`` failed publishes
  the event goes to the dead-letter table.
- Tasks (decisions B7): ``max_retries`` 3 with backoff 1, 2, 4 minutes; after the last retry
  the task fails. An expired lease counts as a failed attempt.
- Runs with a start window (the SMS sweep, the orchestrator's tick): ``while_time_left`` hands
  out items only while the window is open, so a run whose items wait on a slow provider still
  ends, and reports, inside its function's timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from shared.domain.constants import (
    EVENT_MAX_PUBLISH_ATTEMPTS,
    EVENT_RETRY_BASE,
    EVENT_RETRY_MAX,
    TASK_RETRY_BACKOFF_BASE,
)


@dataclass(frozen=True)
class RetryAt:
    """Try again at ``when``; ``attempts`` is the new failure count to store."""

    when: datetime
    attempts: int


@dataclass(frozen=True)
class GiveUp:
    """No more attempts: dead-letter (events) or fail (tasks)."""

    attempts: int
    reason: str


RetryDecision = RetryAt | GiveUp


def event_backoff(failed_attempts: int) -> timedelta:
    """Delay before the next publish after ``failed_attempts`` failures (>= 1): 10 s doubling, capped."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    delay = EVENT_RETRY_BASE * (1 << (failed_attempts - 1))
    return min(delay, EVENT_RETRY_MAX)


def decide_event_publish_failure(
    previous_attempts: int, now: datetime, max_attempts: int = EVENT_MAX_PUBLISH_ATTEMPTS
) -> RetryDecision:
    """An event's publish just failed; ``previous_attempts`` failures were recorded before it."""
    attempts = previous_attempts + 1
    if attempts >= max_attempts:
        return GiveUp(attempts, f"publish failed {attempts} times")
    return RetryAt(now + event_backoff(attempts), attempts)


def task_backoff(retry_number: int) -> timedelta:
    """Delay before retry number ``retry_number`` (1-based): 1, 2, 4 minutes ..."""
    if retry_number < 1:
        raise ValueError("retry_number starts at 1")
    return TASK_RETRY_BACKOFF_BASE * (1 << (retry_number - 1))


def decide_task_failure(retry_count: int, max_retries: int, now: datetime) -> RetryDecision:
    """A task attempt failed (handler error, lost lease, publish failure).

    ``retry_count`` retries were already used. With ``max_retries`` 3 the task runs at most four
    times: the first attempt and three retries 1, 2 and 4 minutes after each failure.
    """
    if retry_count >= max_retries:
        return GiveUp(retry_count, f"gave up after {retry_count} retries (max_retries {max_retries})")
    retry_number = retry_count + 1
    return RetryAt(now + task_backoff(retry_number), retry_number)


T = TypeVar("T")


def while_time_left(items: Iterable[T], deadline: float, clock: Callable[[], float]) -> Iterator[T]:
    """``items`` in order, each handed out only while ``clock`` is still before ``deadline`` (an
    item is not started at the deadline itself)."""
    for item in items:
        if clock() >= deadline:
            return
        yield item
