"""Every spec boundary pinned by an example on each side (issue 15 §7): a mutant that moves one
(22:00 to 23:00, 5/day to 6/day, a < to a <=) fails here on every run, not only on some seeds of
the property tests.

22:00 and 08:00 (quiet hours, B2), 5 a day and 2 an hour (the budget, B1), 10 minutes (the active
member, B1), 10 SMS in 10 minutes (the runaway guard: tests/integration/test_runaway_boundaries.py),
7 days (community requests, §8), 3 (task retries, B7) and 2 (the dormancy strikes, B9).
The 3-strike re-engagement pause (agents.md §4) is not built yet, so it has no boundary to pin.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.domain.community import accepts_responses
from shared.domain.constants import (
    ACTIVE_USER_WINDOW,
    COMMUNITY_REQUEST_EXPIRY,
    DAILY_PROACTIVE_LIMIT,
    HOURLY_PROACTIVE_LIMIT,
    PRIORITY_DORMANT_AFTER_PRESENTATIONS,
    QUIET_HOURS_END_HOUR,
    QUIET_HOURS_START_HOUR,
    RUNAWAY_GUARD_MAX_SMS,
    RUNAWAY_GUARD_WINDOW,
    TASK_MAX_RETRIES,
)
from shared.domain.priorities import is_dormant
from shared.domain.retry import GiveUp, RetryAt, decide_task_failure
from shared.domain.send_policy import Defer, Send, SendState, decide

NY = ZoneInfo("America/New_York")
SECOND = timedelta(seconds=1)


def local(hour: int, minute: int = 0, second: int = 0, day: int = 14) -> datetime:
    """A January instant in New York (no DST nearby), as the policy receives it (UTC)."""
    return datetime(2026, 1, day, hour, minute, second, tzinfo=NY).astimezone(UTC)


def state(**kwargs: object) -> SendState:
    return SendState(timezone=NY, **kwargs)  # type: ignore[arg-type]


def test_the_spec_numbers_are_the_constants():
    assert (QUIET_HOURS_START_HOUR, QUIET_HOURS_END_HOUR) == (22, 8)
    assert (DAILY_PROACTIVE_LIMIT, HOURLY_PROACTIVE_LIMIT) == (5, 2)
    assert (10, timedelta(minutes=10)) == (RUNAWAY_GUARD_MAX_SMS, RUNAWAY_GUARD_WINDOW)
    assert timedelta(minutes=10) == ACTIVE_USER_WINDOW
    assert timedelta(days=7) == COMMUNITY_REQUEST_EXPIRY
    assert TASK_MAX_RETRIES == 3
    assert PRIORITY_DORMANT_AFTER_PRESENTATIONS == 2


# --- 22:00: quiet hours start ---------------------------------------------------------------


def test_a_second_before_22_00_sends():
    assert decide(state(), local(21, 59, 59)) == Send(budgeted=True)


def test_at_22_00_it_waits_until_08_00():
    decision = decide(state(), local(22))
    assert isinstance(decision, Defer)
    assert decision.reason == "quiet_hours"
    assert decision.until == local(8, day=15)


# --- 08:00: quiet hours end -----------------------------------------------------------------


def test_a_second_before_08_00_waits_one_second():
    decision = decide(state(), local(7, 59, 59))
    assert isinstance(decision, Defer)
    assert decision.until == local(8)


def test_at_08_00_it_sends():
    assert decide(state(), local(8)) == Send(budgeted=True)


# --- 5 a day ----------------------------------------------------------------------------------


def test_the_fifth_of_the_day_goes_the_sixth_waits_for_local_midnight():
    now = local(12)
    day = now.astimezone(NY).date()
    assert decide(state(budget_date=day, sent_today=DAILY_PROACTIVE_LIMIT - 1), now) == Send(budgeted=True)
    sixth = decide(state(budget_date=day, sent_today=DAILY_PROACTIVE_LIMIT), now)
    assert isinstance(sixth, Defer)
    # Held to local midnight by the budget, then to 08:00 by quiet hours (the last mover).
    assert sixth.until == local(8, day=15)
    assert sixth.until.astimezone(NY).time() == time(8, 0)


# --- 2 an hour --------------------------------------------------------------------------------


def test_the_second_in_an_hour_goes_the_third_waits():
    now = local(12)
    one = (now - timedelta(minutes=30),)
    assert decide(state(recent_sends=one), now) == Send(budgeted=True)
    two = (now - timedelta(minutes=40), now - timedelta(minutes=30))
    third = decide(state(recent_sends=two), now)
    assert isinstance(third, Defer)
    assert third.reason == "hourly_limit"
    assert third.until == now + timedelta(minutes=20)  # when the older one leaves the hour


def test_a_send_exactly_an_hour_ago_no_longer_counts_one_a_second_younger_does():
    now = local(12)
    assert decide(state(recent_sends=(now - timedelta(hours=1), now - SECOND)), now) == Send(budgeted=True)
    inside = decide(state(recent_sends=(now - timedelta(hours=1) + SECOND, now - SECOND)), now)
    assert isinstance(inside, Defer)


# --- 10 minutes: the active member ------------------------------------------------------------


def test_a_member_who_texted_under_ten_minutes_ago_is_exempt_at_ten_minutes_not():
    at_night = local(23)
    assert decide(state(last_inbound_at=at_night - ACTIVE_USER_WINDOW + SECOND), at_night) == Send(
        budgeted=False
    )
    assert isinstance(decide(state(last_inbound_at=at_night - ACTIVE_USER_WINDOW), at_night), Defer)


# --- 7 days: a community request ----------------------------------------------------------------


@pytest.mark.parametrize("status", ["open"])
def test_a_community_request_takes_answers_until_seven_days_not_after(status):
    created = local(12)
    expires_at = created + COMMUNITY_REQUEST_EXPIRY
    assert accepts_responses(status, expires_at, created + COMMUNITY_REQUEST_EXPIRY - SECOND)
    assert not accepts_responses(status, expires_at, created + COMMUNITY_REQUEST_EXPIRY)


# --- 3 retries: a task ----------------------------------------------------------------------------


def test_the_third_retry_is_the_last():
    now = local(12)
    third = decide_task_failure(TASK_MAX_RETRIES - 1, TASK_MAX_RETRIES, now)
    assert isinstance(third, RetryAt)
    assert third.attempts == TASK_MAX_RETRIES
    assert isinstance(decide_task_failure(TASK_MAX_RETRIES, TASK_MAX_RETRIES, now), GiveUp)


# --- 2 strikes: a priority goes dormant ----------------------------------------------------------


def test_one_presentation_keeps_a_priority_two_make_it_dormant():
    assert not is_dormant(PRIORITY_DORMANT_AFTER_PRESENTATIONS - 1)
    assert is_dormant(PRIORITY_DORMANT_AFTER_PRESENTATIONS)
