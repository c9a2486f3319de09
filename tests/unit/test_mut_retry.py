"""Exact retry decisions (decisions B6, B7): the reasons stored on the dead letter / failed task,
both sides of each limit, and the refusal of a zero or negative attempt number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.retry import (
    GiveUp,
    RetryAt,
    decide_event_publish_failure,
    decide_task_failure,
    event_backoff,
    task_backoff,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_fifth_failed_publish_gives_up_with_its_count_in_the_reason():
    assert decide_event_publish_failure(4, NOW) == GiveUp(5, "publish failed 5 times")
    assert decide_event_publish_failure(9, NOW) == GiveUp(10, "publish failed 10 times")


def test_an_explicit_max_attempts_moves_the_dead_letter_boundary():
    assert decide_event_publish_failure(1, NOW, max_attempts=3) == RetryAt(NOW + timedelta(seconds=20), 2)
    assert decide_event_publish_failure(2, NOW, max_attempts=3) == GiveUp(3, "publish failed 3 times")
    assert decide_event_publish_failure(0, NOW, max_attempts=1) == GiveUp(1, "publish failed 1 times")


def test_event_backoff_reaches_the_ten_minute_cap_exactly_at_the_seventh_failure():
    assert event_backoff(1) == timedelta(seconds=10)
    assert event_backoff(6) == timedelta(seconds=320)
    assert event_backoff(7) == timedelta(minutes=10)  # 640 s capped at 600 s
    assert event_backoff(8) == timedelta(minutes=10)


def test_task_gives_up_with_the_retries_and_the_limit_in_the_reason():
    assert decide_task_failure(3, 3, NOW) == GiveUp(3, "gave up after 3 retries (max_retries 3)")
    assert decide_task_failure(5, 2, NOW) == GiveUp(5, "gave up after 5 retries (max_retries 2)")
    assert decide_task_failure(0, 0, NOW) == GiveUp(0, "gave up after 0 retries (max_retries 0)")


def test_task_retry_just_below_the_limit_is_the_last_retry():
    assert decide_task_failure(4, 5, NOW) == RetryAt(NOW + timedelta(minutes=16), 5)
    assert task_backoff(1) == timedelta(minutes=1)
    assert task_backoff(4) == timedelta(minutes=8)


@pytest.mark.parametrize("bad", [0, -3])
def test_attempt_numbers_below_one_are_refused_with_a_clear_message(bad: int):
    with pytest.raises(ValueError, match=r"^failed_attempts starts at 1$"):
        event_backoff(bad)
    with pytest.raises(ValueError, match=r"^retry_number starts at 1$"):
        task_backoff(bad)
