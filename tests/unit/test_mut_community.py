"""Expert selection at its edges (agents.md §7, §8; decisions B18): the load cap counts the expert's
own local day, each end of their own quiet hours is theirs, quiet hours can be turned off, a
candidate listed twice is asked once; and splitting a referred name."""

from __future__ import annotations

from datetime import UTC, datetime, time
from uuid import uuid4

import pytest

from shared.domain.community import Candidate, SkipReason, select_experts, skip_reason, split_name

# 12:00 UTC on 2 December = 07:00 in New York, 04:00 in Los Angeles, 01:00 on 3 December in Auckland.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_an_ask_on_the_experts_previous_local_day_does_not_count_even_on_the_same_utc_day():
    asked_yesterday_local = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # 23:00 on 2 December in Auckland
    expert = Candidate(
        uuid4(),
        overlap=1,
        recent_asks=(asked_yesterday_local,),
        timezone="Pacific/Auckland",
        quiet_hours_enabled=False,
    )
    assert skip_reason(expert, requester_ids=[], now=NOW) is None
    asked_today_local = datetime(2026, 12, 2, 11, 30, tzinfo=UTC)  # 00:30 on 3 December in Auckland
    again = Candidate(
        uuid4(),
        overlap=1,
        recent_asks=(asked_today_local,),
        timezone="Pacific/Auckland",
        quiet_hours_enabled=False,
    )
    assert skip_reason(again, requester_ids=[], now=NOW) is SkipReason.ASKED_TODAY


@pytest.mark.parametrize(
    ("start", "end", "skipped"),
    [
        (time(5, 0), time(6, 0), False),  # 07:00 local: after their window
        (time(6, 0), time(7, 30), True),  # inside it
        (time(8, 0), time(9, 0), False),  # before it
        (time(6, 0), time(6, 30), False),  # ended half an hour ago
    ],
)
def test_each_end_of_the_experts_own_quiet_hours_is_theirs(start, end, skipped):
    expert = Candidate(
        uuid4(), overlap=1, timezone="America/New_York", quiet_hours_start=start, quiet_hours_end=end
    )
    assert (skip_reason(expert, requester_ids=[], now=NOW) is SkipReason.QUIET_HOURS) is skipped


def test_an_expert_who_turned_quiet_hours_off_is_asked_at_night():
    night_owl = Candidate(uuid4(), overlap=1, timezone="America/Los_Angeles", quiet_hours_enabled=False)
    sleeper = Candidate(uuid4(), overlap=1, timezone="America/Los_Angeles")
    assert skip_reason(night_owl, requester_ids=[], now=NOW) is None
    assert skip_reason(sleeper, requester_ids=[], now=NOW) is SkipReason.QUIET_HOURS


def test_a_candidate_listed_twice_is_asked_once_and_the_next_still_counts():
    a = Candidate(uuid4(), overlap=2, timezone="America/New_York", quiet_hours_enabled=False)
    b = Candidate(uuid4(), overlap=1, timezone="America/New_York", quiet_hours_enabled=False)
    selection = select_experts([a, a, b], requester_ids=[], now=NOW)
    assert selection.chosen == (a.user_id, b.user_id)
    assert selection.skipped == ()


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("Dana Kim", ("Dana", "Kim")),
        ("Dana", ("Dana", None)),
        ("  Mary   Ann  Smith ", ("Mary", "Ann Smith")),
        ("", ("", None)),
        ("   ", ("", None)),
    ],
)
def test_a_referred_name_splits_into_first_and_the_rest(name, parts):
    assert split_name(name) == parts
