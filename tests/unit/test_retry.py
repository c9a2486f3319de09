from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.constants import EVENT_MAX_PUBLISH_ATTEMPTS, EVENT_RETRY_MAX
from shared.domain.retry import (
    GiveUp,
    RetryAt,
    decide_event_publish_failure,
    decide_task_failure,
    event_backoff,
    task_backoff,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_event_backoff_doubles_from_ten_seconds_and_is_capped():
    assert [event_backoff(n).total_seconds() for n in range(1, 8)] == [10, 20, 40, 80, 160, 320, 600]
    assert event_backoff(30) == EVENT_RETRY_MAX


def test_event_publish_failures_retry_then_give_up_on_the_fifth():
    decisions = [decide_event_publish_failure(previous, NOW) for previous in range(5)]
    assert decisions[:4] == [
        RetryAt(NOW + timedelta(seconds=10), 1),
        RetryAt(NOW + timedelta(seconds=20), 2),
        RetryAt(NOW + timedelta(seconds=40), 3),
        RetryAt(NOW + timedelta(seconds=80), 4),
    ]
    assert isinstance(decisions[4], GiveUp)
    assert decisions[4].attempts == EVENT_MAX_PUBLISH_ATTEMPTS


def test_task_retries_back_off_one_two_four_minutes_then_fail():
    assert decide_task_failure(0, 3, NOW) == RetryAt(NOW + timedelta(minutes=1), 1)
    assert decide_task_failure(1, 3, NOW) == RetryAt(NOW + timedelta(minutes=2), 2)
    assert decide_task_failure(2, 3, NOW) == RetryAt(NOW + timedelta(minutes=4), 3)
    final = decide_task_failure(3, 3, NOW)
    assert isinstance(final, GiveUp)
    assert "3 retries" in final.reason


def test_a_task_without_retries_fails_at_once():
    assert isinstance(decide_task_failure(0, 0, NOW), GiveUp)


@pytest.mark.parametrize("bad", [0, -1])
def test_backoff_numbers_start_at_one(bad):
    with pytest.raises(ValueError):
        event_backoff(bad)
    with pytest.raises(ValueError):
        task_backoff(bad)


@given(st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=10))
def test_task_decisions_never_exceed_max_retries(retry_count, max_retries):
    decision = decide_task_failure(retry_count, max_retries, NOW)
    if isinstance(decision, RetryAt):
        assert decision.attempts <= max_retries
        assert decision.when > NOW
    else:
        assert retry_count >= max_retries


@given(st.integers(min_value=0, max_value=100))
def test_event_retry_times_are_in_the_future_and_bounded(previous):
    decision = decide_event_publish_failure(previous, NOW)
    if isinstance(decision, RetryAt):
        assert NOW < decision.when <= NOW + EVENT_RETRY_MAX
    else:
        assert decision.attempts >= EVENT_MAX_PUBLISH_ATTEMPTS
