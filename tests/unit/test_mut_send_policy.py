"""The send policy's boundaries, pinned (decisions B1-B3, platform §1.2-§1.9): the quiet-hours
edges, the rolling hour and the active window at exactly their limits, a zero hourly budget, the
default state's counters, priorities and sequence units, and the best send hour's range."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from shared.domain.send_policy import (
    Defer,
    QueuedPart,
    QuietHours,
    Send,
    SendState,
    SendUnit,
    after_send,
    best_send_time,
    blocker,
    decide,
    earliest_allowed,
    group_units,
    instants_for_wall,
    is_active,
    local_wall,
    next_local_midnight,
    next_wall_time,
    priority_rank,
    resolve_timezone,
)

NY = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- time zones ---------------------------------------------------------------------------------


def test_a_path_like_or_empty_zone_name_falls_back_to_new_york():
    assert resolve_timezone("/etc/passwd") == NY  # ZoneInfo raises ValueError for paths
    assert resolve_timezone("") == NY
    assert resolve_timezone("Nowhere/Else", fallback="UTC") == UTC_ZONE
    assert resolve_timezone("Europe/Paris") == ZoneInfo("Europe/Paris")


def test_local_wall_is_the_naive_local_reading():
    assert local_wall(utc(2026, 1, 15, 13, 0), NY) == datetime(2026, 1, 15, 8, 0)


def test_the_spring_forward_gap_resolves_to_the_exact_transition_second():
    # 02:00-03:00 does not exist in New York on 8 March 2026; the clocks jump at 07:00:00 UTC.
    assert instants_for_wall(datetime(2026, 3, 8, 2, 0), NY) == [utc(2026, 3, 8, 7, 0)]
    assert instants_for_wall(datetime(2026, 3, 8, 2, 59, 59), NY) == [utc(2026, 3, 8, 7, 0)]
    assert instants_for_wall(datetime(2026, 3, 8, 3, 0), NY) == [utc(2026, 3, 8, 7, 0)]
    assert instants_for_wall(datetime(2026, 3, 8, 1, 59, 59), NY) == [utc(2026, 3, 8, 6, 59, second=59)]
    assert instants_for_wall(datetime(2026, 1, 15, 9, 0), NY) == [utc(2026, 1, 15, 14, 0)]


def test_next_wall_time_is_strictly_after():
    at_ten = utc(2026, 1, 15, 15, 0)  # 10:00 EST
    assert next_wall_time(at_ten, NY, time(10, 0)) == utc(2026, 1, 16, 15, 0)
    assert next_wall_time(at_ten - timedelta(seconds=1), NY, time(10, 0)) == at_ten
    # 23:30 EST, wall 00:15: the next day's.
    assert next_wall_time(utc(2026, 1, 16, 4, 30), NY, time(0, 15)) == utc(2026, 1, 16, 5, 15)


def test_next_local_midnight_from_just_before_and_at_midnight():
    assert next_local_midnight(utc(2026, 1, 16, 4, 59, second=59), NY) == utc(2026, 1, 16, 5, 0)
    assert next_local_midnight(utc(2026, 1, 16, 5, 0), NY) == utc(2026, 1, 17, 5, 0)


# --- quiet hours --------------------------------------------------------------------------------


def test_default_quiet_hours_are_22_to_8_inclusive_of_the_start_exclusive_of_the_end():
    quiet = QuietHours()
    assert (quiet.start, quiet.end, quiet.enabled) == (time(22, 0), time(8, 0), True)
    assert quiet.contains_wall(time(22, 0))
    assert not quiet.contains_wall(time(21, 59, 59))
    assert quiet.contains_wall(time(7, 59, 59))
    assert not quiet.contains_wall(time(8, 0))
    assert quiet.contains_wall(time(0, 0))
    assert not quiet.contains_wall(time(12, 0))


def test_a_window_within_one_day_includes_its_start_and_excludes_its_end():
    quiet = QuietHours(time(13, 0), time(14, 0))
    assert not quiet.contains_wall(time(12, 59, 59))
    assert quiet.contains_wall(time(13, 0))
    assert quiet.contains_wall(time(13, 59, 59))
    assert not quiet.contains_wall(time(14, 0))
    assert not quiet.contains_wall(time(23, 0))


def test_a_disabled_window_contains_nothing():
    assert not QuietHours(enabled=False).contains_wall(time(23, 0))
    assert not QuietHours(time(9, 0), time(9, 0)).contains_wall(time(9, 0))


def test_from_user_fills_missing_ends_with_the_defaults_and_drops_the_zone():
    assert QuietHours.from_user(None, None) == QuietHours(time(22, 0), time(8, 0), True)
    assert QuietHours.from_user(None, None, None) == QuietHours(time(22, 0), time(8, 0), True)
    assert QuietHours.from_user(time(23, 0), None, False) == QuietHours(time(23, 0), time(8, 0), False)
    assert QuietHours.from_user(None, time(7, 0, tzinfo=UTC)) == QuietHours(time(22, 0), time(7, 0), True)
    assert QuietHours.from_user(None, time(7, 0)).enabled is True


def test_quiet_hours_end_in_utc_zone():
    quiet = QuietHours()
    assert quiet.contains(utc(2026, 1, 15, 23, 0), UTC_ZONE)
    assert quiet.end_after(utc(2026, 1, 15, 23, 0), UTC_ZONE) == utc(2026, 1, 16, 8, 0)


# --- state and budget ---------------------------------------------------------------------------


def test_a_fresh_state_has_the_spec_limits_and_nothing_counted():
    state = SendState(timezone=NY)
    assert (state.daily_limit, state.hourly_limit) == (5, 2)
    assert (state.budget_date, state.sent_today, state.recent_sends) == (None, 0, ())
    assert (state.last_inbound_at, state.opted_out) == (None, False)
    assert state.quiet == QuietHours()


def test_the_first_send_on_a_budget_date_with_no_count_given_counts_one():
    now = utc(2026, 1, 15, 17, 0)
    state = SendState(timezone=NY, budget_date=date(2026, 1, 15))
    assert state.sent_on(date(2026, 1, 15)) == 0
    assert after_send(state, now, budgeted=True).sent_today == 1


def test_after_send_keeps_only_the_last_hours_sends_and_adds_this_one():
    now = utc(2026, 1, 15, 17, 0)
    old = now - timedelta(hours=1)  # exactly an hour ago: out of the window
    recent = now - timedelta(minutes=59)
    state = SendState(timezone=NY, recent_sends=(recent, old), budget_date=date(2026, 1, 14), sent_today=4)
    after = after_send(state, now, budgeted=True)
    assert after.recent_sends == (recent, now)
    assert after.budget_date == date(2026, 1, 15)
    assert after.sent_today == 1  # a new local day


def test_the_rolling_hour_excludes_its_start_and_future_sends():
    now = utc(2026, 1, 15, 17, 0)
    sends = (
        now - timedelta(hours=1),
        now - timedelta(minutes=59, seconds=59),
        now,
        now + timedelta(seconds=1),
    )
    state = SendState(timezone=NY, recent_sends=sends)
    assert state.sends_in_hour_before(now) == [now - timedelta(minutes=59, seconds=59), now]


def test_active_window_is_ten_minutes_and_excludes_future_inbound():
    now = utc(2026, 1, 15, 17, 0)
    assert is_active(now, now)
    assert is_active(now - timedelta(minutes=9, seconds=59), now)
    assert not is_active(now - timedelta(minutes=10), now)
    assert not is_active(now + timedelta(seconds=1), now)
    assert not is_active(None, now)
    assert SendState(timezone=NY, last_inbound_at=now).is_active(now)


def test_the_daily_limit_blocks_until_local_midnight():
    now = utc(2026, 1, 15, 20, 0)  # 15:00 EST
    state = SendState(timezone=NY, budget_date=date(2026, 1, 15), sent_today=5)
    assert blocker(state, now) == ("daily_limit", utc(2026, 1, 16, 5, 0))
    assert blocker(SendState(timezone=NY, budget_date=date(2026, 1, 15), sent_today=4), now) is None


def test_a_zero_hourly_limit_blocks_for_an_hour_even_with_no_sends():
    now = utc(2026, 1, 15, 17, 0)
    state = SendState(timezone=NY, hourly_limit=0)
    assert blocker(state, now) == ("hourly_limit", now + timedelta(hours=1))
    assert blocker(SendState(timezone=NY, hourly_limit=-1), now) == ("hourly_limit", now + timedelta(hours=1))


def test_the_hourly_limit_frees_when_the_limit_th_latest_send_leaves_the_window():
    now = utc(2026, 1, 15, 17, 0)
    sends = (now - timedelta(minutes=50), now - timedelta(minutes=30), now - timedelta(minutes=10))
    assert blocker(SendState(timezone=NY, recent_sends=sends), now) == (
        "hourly_limit",
        now + timedelta(minutes=30),
    )
    assert blocker(SendState(timezone=NY, hourly_limit=3, recent_sends=sends), now) == (
        "hourly_limit",
        now + timedelta(minutes=10),
    )
    assert blocker(SendState(timezone=NY, hourly_limit=1, recent_sends=sends[:1]), now) == (
        "hourly_limit",
        now + timedelta(minutes=10),
    )
    assert blocker(SendState(timezone=NY, hourly_limit=2, recent_sends=sends[:1]), now) is None


def test_quiet_hours_blocker_names_the_end():
    now = utc(2026, 1, 16, 3, 0)  # 22:00 EST
    assert blocker(SendState(timezone=NY), now) == ("quiet_hours", utc(2026, 1, 16, 13, 0))
    assert blocker(SendState(timezone=NY), now - timedelta(seconds=1)) is None


def test_earliest_allowed_names_the_last_rule_that_moved_it():
    now = utc(2026, 1, 15, 20, 0)
    assert earliest_allowed(SendState(timezone=NY), now) == (now, None)
    full = SendState(timezone=NY, budget_date=date(2026, 1, 15), sent_today=5)
    assert earliest_allowed(full, now) == (utc(2026, 1, 16, 13, 0), "quiet_hours")


def test_a_deferral_to_the_next_second_moves_at_least_one_second():
    # A blocker whose end is now itself (a send exactly an hour before, in a window of limit 0 is
    # not it): the hourly window at limit 1 with a send exactly now frees in an hour.
    now = utc(2026, 1, 15, 17, 0)
    state = SendState(timezone=NY, hourly_limit=1, recent_sends=(now,))
    assert decide(state, now) == Defer(until=now + timedelta(hours=1), reason="hourly_limit")


def test_send_now_when_nothing_blocks():
    assert decide(SendState(timezone=NY), utc(2026, 1, 15, 17, 0)) == Send(budgeted=True)


# --- priority and sequences ---------------------------------------------------------------------


def test_priority_ranks_and_the_medium_default():
    assert [priority_rank(p) for p in ("urgent", "high", "medium", "low")] == [1, 2, 3, 4]
    assert priority_rank(None) == 3
    assert priority_rank("") == 3
    assert priority_rank("critical") == 3


BASE = utc(2026, 1, 15, 17, 0)
USER = UUID(int=900)


def part(
    n: int,
    priority: str = "medium",
    *,
    seq: UUID | None = None,
    pos: int | None = None,
    total: int | None = None,
    minutes: int = 0,
    fresh: bool = False,
    user: UUID = USER,
) -> QueuedPart:
    when = BASE + timedelta(minutes=minutes)
    return QueuedPart(UUID(int=n), user, priority, when, when - timedelta(hours=1), seq, pos, total, fresh)


def test_a_part_needs_no_fresh_context_by_default():
    plain = QueuedPart(UUID(int=1), USER, "low", BASE, BASE)
    assert plain.requires_fresh_context is False
    assert plain.sequence_id is None and plain.sequence_position is None and plain.sequence_total is None
    (unit,) = group_units([plain])
    assert unit.requires_fresh_context is False
    assert unit.complete
    assert not unit.is_sequence


def test_a_sequence_unit_takes_its_most_urgent_part_and_earliest_times():
    seq = UUID(int=70)
    parts = [
        part(2, "low", seq=seq, pos=2, total=2, minutes=5, fresh=True),
        part(3, "high", seq=seq, pos=1, total=2, minutes=10),
    ]
    (unit,) = group_units(parts)
    assert unit.key == seq
    assert [p.sequence_position for p in unit.parts] == [1, 2]
    assert unit.user_id == USER
    assert unit.rank == 2
    assert unit.scheduled_for == BASE + timedelta(minutes=5)
    assert unit.created_at == BASE + timedelta(minutes=5) - timedelta(hours=1)
    assert unit.is_sequence
    assert unit.requires_fresh_context
    assert unit.complete
    assert unit.sort_key() == (2, BASE + timedelta(minutes=5), str(seq))


def test_sequence_completeness_positions_one_to_total():
    seq = UUID(int=71)
    whole = SendUnit(seq, (part(1, seq=seq, pos=1, total=2), part(2, seq=seq, pos=2, total=2)))
    assert whole.complete
    assert not SendUnit(seq, (part(1, seq=seq, pos=1, total=3), part(2, seq=seq, pos=2, total=3))).complete
    assert not SendUnit(seq, (part(1, seq=seq, pos=2, total=2), part(2, seq=seq, pos=3, total=2))).complete
    assert not SendUnit(seq, (part(1, seq=seq, pos=1, total=1), part(2, seq=seq, pos=1, total=1))).complete
    # No total recorded: the parts present must be 1..n.
    assert SendUnit(seq, (part(1, seq=seq, pos=1), part(2, seq=seq, pos=2))).complete
    assert not SendUnit(seq, (part(1, seq=seq, pos=1), part(2, seq=seq, pos=3))).complete
    single = SendUnit(UUID(int=1), (part(1),))
    assert single.complete
    assert not SendUnit(UUID(int=1), (part(1), part(2))).complete


def test_units_sort_by_priority_then_due_time_then_key():
    parts = [
        part(5, "medium", minutes=1),
        part(4, "medium", minutes=0),
        part(6, "high", minutes=30),
        part(3, "medium", minutes=0),
    ]
    assert [u.key for u in group_units(parts)] == [UUID(int=6), UUID(int=3), UUID(int=4), UUID(int=5)]


def test_each_user_part_of_another_user_is_its_own_unit():
    other = UUID(int=901)
    units = group_units([part(1), part(2, user=other)])
    assert [u.user_id for u in units] == [USER, other]


# --- best send time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ([0], utc(2026, 1, 16, 5, 0)),  # midnight EST is a valid learned hour
        ([23], utc(2026, 1, 16, 4, 0)),  # 23:00 EST too
        ([24, -1, 10], utc(2026, 1, 16, 15, 0)),  # out-of-range hours are dropped
        ([24], utc(2026, 1, 16, 15, 0)),  # nothing left: 10:00
        ([], utc(2026, 1, 16, 15, 0)),
    ],
)
def test_best_hours_are_the_range_0_to_23(hours: list[int], expected: datetime):
    now = utc(2026, 1, 15, 17, 30)  # 12:30 EST
    assert best_send_time(now, NY, hours, can_delay=True, active=False) == expected


def test_a_non_integer_best_hour_is_ignored():
    now = utc(2026, 1, 15, 17, 30)  # 12:30 EST
    hours: list[int] = [12.0, 14]  # type: ignore[list-item]
    assert best_send_time(now, NY, hours, can_delay=True, active=False) == utc(2026, 1, 15, 19, 0)


def test_the_earliest_of_several_best_hours_wins():
    now = utc(2026, 1, 15, 17, 30)  # 12:30 EST
    assert best_send_time(now, NY, [9, 16, 13], can_delay=True, active=False) == utc(2026, 1, 15, 18, 0)
    assert best_send_time(now, NY, [12], can_delay=False, active=True) == now


def test_parts_at_the_same_position_are_ordered_by_id():
    seq = UUID(int=72)
    (unit,) = group_units([part(5, seq=seq, pos=1, total=2), part(4, seq=seq, pos=1, total=2)])
    assert [p.id for p in unit.parts] == [UUID(int=4), UUID(int=5)]
    assert not unit.complete


def test_a_quiet_end_skipped_by_the_clocks_can_land_back_in_the_window():
    # Quiet 02:45-02:30 (all but a quarter hour). On 8 March 2026 New York skips 02:00-03:00, so
    # the end 02:30 resolves to 03:00 EDT, which is past 02:45: still quiet. The window ends at
    # the next real 02:30, on 9 March.
    state = SendState(timezone=NY, quiet=QuietHours(time(2, 45), time(2, 30)))
    now = utc(2026, 3, 8, 6, 0)  # 01:00 EST
    assert decide(state, now) == Defer(until=utc(2026, 3, 9, 6, 30), reason="quiet_hours")


def test_the_budget_date_is_the_members_local_date():
    now = utc(2026, 1, 16, 1, 0)  # 20:00 EST on 15 January
    assert after_send(SendState(timezone=NY), now, budgeted=True).budget_date == date(2026, 1, 15)
