"""Worked examples of the send policy: quiet hours across DST, budgets, activity, best send time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from shared.domain.send_policy import (
    Cancel,
    Defer,
    QueuedPart,
    QuietHours,
    Send,
    SendState,
    after_send,
    best_send_time,
    decide,
    group_units,
    instants_for_wall,
    next_local_midnight,
    resolve_timezone,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "now", "expected_end"),
    [
        # 23:30 EST on 7 March; clocks spring forward that night: 08:00 EDT is 12:00 UTC.
        (NY, utc(2026, 3, 8, 4, 30), utc(2026, 3, 8, 12, 0)),
        # 23:00 EDT on 31 October; clocks fall back that night: 08:00 EST is 13:00 UTC.
        (NY, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 13, 0)),
        # After midnight (03:00 EST): the end is this morning, not tomorrow.
        (NY, utc(2026, 1, 15, 8, 0), utc(2026, 1, 15, 13, 0)),
        # London, the night BST starts (29 March): 08:00 BST is 07:00 UTC.
        (LONDON, utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 7, 0)),
        # Kolkata (+05:30, no DST): 23:00 IST -> 08:00 IST = 02:30 UTC.
        (KOLKATA, utc(2026, 6, 1, 17, 30), utc(2026, 6, 2, 2, 30)),
        # Lord Howe moves by 30 minutes on 4 October 2026 (+10:30 -> +11:00): 08:00 is 21:00 UTC.
        (LORD_HOWE, utc(2026, 10, 3, 13, 0), utc(2026, 10, 3, 21, 0)),
    ],
)
def test_message_due_in_quiet_hours_moves_to_the_local_end(
    tz: ZoneInfo, now: datetime, expected_end: datetime
):
    decision = decide(SendState(timezone=tz), now)
    assert decision == Defer(until=expected_end, reason="quiet_hours")
    assert expected_end.astimezone(tz).time() == time(8, 0)


def test_custom_quiet_end_inside_the_spring_forward_gap_resolves_to_the_transition():
    quiet = QuietHours.from_user(time(1, 0), time(2, 30))
    # 01:30 EST on 8 March 2026; 02:30 does not exist that night, the clock jumps 02:00 -> 03:00.
    decision = decide(SendState(timezone=NY, quiet=quiet), utc(2026, 3, 8, 6, 30))
    assert decision == Defer(until=utc(2026, 3, 8, 7, 0), reason="quiet_hours")
    assert decision.until.astimezone(NY).time() == time(3, 0)


def test_repeated_fall_back_hour_is_resolved_to_its_second_pass_when_the_first_is_over():
    quiet = QuietHours.from_user(time(0, 30), time(1, 30))
    # 01:10 EST (second pass, 06:10 UTC): the first 01:30 (05:30 UTC) is already past.
    decision = decide(SendState(timezone=NY, quiet=quiet), utc(2026, 11, 1, 6, 10))
    assert decision == Defer(until=utc(2026, 11, 1, 6, 30), reason="quiet_hours")


def test_ambiguous_and_skipped_wall_times():
    assert instants_for_wall(datetime(2026, 11, 1, 1, 30), NY) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 6, 30),
    ]
    assert instants_for_wall(datetime(2026, 3, 8, 2, 30), NY) == [utc(2026, 3, 8, 7, 0)]
    assert next_local_midnight(utc(2026, 3, 8, 3, 0), NY) == utc(2026, 3, 8, 5, 0)


def test_quiet_hours_can_be_turned_off_or_empty():
    night = utc(2026, 1, 15, 8, 0)  # 03:00 in New York
    assert decide(SendState(timezone=NY, quiet=QuietHours(enabled=False)), night) == Send(budgeted=True)
    assert decide(SendState(timezone=NY, quiet=QuietHours(time(9), time(9))), night) == Send(budgeted=True)


def test_daily_limit_defers_to_the_next_local_morning():
    now = utc(2026, 1, 15, 20, 0)  # 15:00 EST
    state = SendState(timezone=NY, budget_date=now.astimezone(NY).date(), sent_today=5)
    # Next local day starts at 00:00 EST, which is quiet, so the answer is 08:00 EST.
    assert decide(state, now) == Defer(until=utc(2026, 1, 16, 13, 0), reason="quiet_hours")
    assert decide(replace(state, sent_today=4), now) == Send(budgeted=True)


def test_daily_count_follows_the_local_date_not_utc():
    # 20:00 EST on 15 Jan is already 16 Jan in UTC; the local day is still the 15th.
    now = utc(2026, 1, 16, 1, 0)
    state = SendState(timezone=NY, budget_date=datetime(2026, 1, 15).date(), sent_today=5)
    assert isinstance(decide(state, now), Defer)
    state = SendState(timezone=NY, budget_date=datetime(2026, 1, 16).date(), sent_today=5)
    assert decide(state, now) == Send(budgeted=True)


def test_hourly_limit_waits_until_the_older_send_leaves_the_window():
    now = utc(2026, 1, 15, 17, 0)
    state = SendState(timezone=NY, recent_sends=(now - timedelta(minutes=50), now - timedelta(minutes=10)))
    assert decide(state, now) == Defer(until=now + timedelta(minutes=10), reason="hourly_limit")
    later = now + timedelta(minutes=10)
    assert decide(state, later) == Send(budgeted=True)


def test_after_send_counts_budgeted_units_only():
    now = utc(2026, 1, 15, 17, 0)
    state = SendState(timezone=NY)
    assert after_send(state, now, budgeted=False) == state
    counted = after_send(after_send(state, now, True), now + timedelta(minutes=1), True)
    assert counted.sent_today == 2
    assert decide(counted, now + timedelta(minutes=2)) == Defer(
        until=now + timedelta(hours=1), reason="hourly_limit"
    )


def test_active_user_is_exempt_from_quiet_hours_and_budget():
    now = utc(2026, 1, 15, 8, 0)  # 03:00 EST
    state = SendState(
        timezone=NY,
        budget_date=now.astimezone(NY).date(),
        sent_today=99,
        recent_sends=(now, now),
        last_inbound_at=now - timedelta(minutes=9),
    )
    assert decide(state, now) == Send(budgeted=False)
    stale = SendState(timezone=NY, last_inbound_at=now - timedelta(minutes=10))
    assert isinstance(decide(stale, now), Defer)


def test_opted_out_user_is_cancelled_even_when_active():
    now = utc(2026, 1, 15, 17, 0)
    state = SendState(timezone=NY, opted_out=True, last_inbound_at=now)
    assert decide(state, now) == Cancel("user opted out")


def test_priority_is_semantic_not_alphabetical():
    base = utc(2026, 1, 15, 17, 0)
    parts = [
        QueuedPart(UUID(int=i), UUID(int=99), p, base, base)
        for i, p in enumerate(["low", "medium", "high", "urgent"])
    ]
    assert [u.parts[0].priority for u in group_units(parts)] == ["urgent", "high", "medium", "low"]


def test_incomplete_sequence_is_detected():
    base = utc(2026, 1, 15, 17, 0)
    seq = UUID(int=7)
    parts = [
        QueuedPart(UUID(int=1), UUID(int=9), "high", base, base, seq, 1, 3),
        QueuedPart(UUID(int=3), UUID(int=9), "high", base, base, seq, 3, 3),
    ]
    (unit,) = group_units(parts)
    assert not unit.complete


@pytest.mark.parametrize(
    ("now", "best_hours", "expected"),
    [
        (utc(2026, 1, 15, 17, 30), None, utc(2026, 1, 16, 15, 0)),  # 12:30 EST -> 10:00 EST tomorrow
        (utc(2026, 1, 15, 14, 0), None, utc(2026, 1, 15, 15, 0)),  # 09:00 EST -> 10:00 today
        (utc(2026, 1, 15, 15, 20), None, utc(2026, 1, 15, 15, 20)),  # 10:20 EST: now
        (utc(2026, 1, 15, 17, 30), [9, 14, 19], utc(2026, 1, 15, 19, 0)),  # 12:30 -> 14:00 EST
        (utc(2026, 1, 15, 19, 30), [14], utc(2026, 1, 15, 19, 30)),  # 14:30 EST is in hour 14: now
        (utc(2026, 3, 7, 17, 0), None, utc(2026, 3, 8, 14, 0)),  # 10:00 EDT after the switch
    ],
)
def test_best_send_time_is_local(now: datetime, best_hours: list[int] | None, expected: datetime):
    assert best_send_time(now, NY, best_hours, can_delay=True, active=False) == expected


def test_best_send_time_is_now_when_not_delayable_or_active():
    now = utc(2026, 1, 15, 17, 30)
    assert best_send_time(now, NY, None, can_delay=False, active=False) == now
    assert best_send_time(now, NY, None, can_delay=True, active=True) == now


def test_unknown_timezone_falls_back_to_the_default():
    assert resolve_timezone("Mars/Olympus") == NY
    assert resolve_timezone(None) == NY
    assert resolve_timezone("Asia/Kolkata") == KOLKATA
