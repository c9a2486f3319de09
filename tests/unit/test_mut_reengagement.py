"""The queued rows of one re-engagement (agents.md §4.8): which structure each row says it is, and
what each part carries, for the cases the planner can send: unknown structures, a sequence_2 with a
reassurance that does not apply, and a sequence_3 without one. And the throttles at the exact
instant: a send dated now counts, one dated later is skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.reengagement import (
    LIMIT_7_DAYS,
    LIMIT_CAP,
    Lane,
    Paused,
    SentReEngagement,
    Throttled,
    check_throttles,
    re_engagement_lane,
    sequence_parts,
    unanswered_in_a_row,
    unanswered_streak,
)

T1 = {"id": "t1", "title": "intro to Dana"}
T2 = {"id": "t2", "title": "the CFO question"}


def test_an_unknown_structure_is_one_row_with_every_thread():
    assert sequence_parts("sequence_9", [T1, T2], "my request", kind="concierge") == [
        {"kind": "concierge", "structure": "single", "threads": [T1, T2]}
    ]


def test_a_reassurance_only_changes_a_sequence_3():
    assert sequence_parts("sequence_2", [T1, T2], "my request", kind="innovator") == [
        {"kind": "innovator", "structure": "sequence_2", "part": "primary", "threads": [T1]},
        {"kind": "innovator", "structure": "sequence_2", "part": "secondary", "threads": [T2]},
    ]


def test_a_sequence_3_without_a_reassurance_goes_out_as_a_sequence_2():
    assert sequence_parts("sequence_3", [T1, T2], None, kind="concierge") == [
        {"kind": "concierge", "structure": "sequence_2", "part": "primary", "threads": [T1]},
        {"kind": "concierge", "structure": "sequence_2", "part": "secondary", "threads": [T2]},
    ]


def test_a_sequence_3_with_a_reassurance_names_its_three_parts():
    assert sequence_parts("sequence_3", [T1, T2], "my CFO request", kind="concierge") == [
        {
            "kind": "concierge",
            "structure": "sequence_3",
            "part": "reassurance",
            "own_request": "my CFO request",
        },
        {"kind": "concierge", "structure": "sequence_3", "part": "update", "threads": [T1]},
        {"kind": "concierge", "structure": "sequence_3", "part": "opportunity", "threads": [T2]},
    ]


def test_one_thread_is_always_a_single_row():
    assert sequence_parts("sequence_3", [T1], "my request", kind="concierge") == [
        {"kind": "concierge", "structure": "single", "threads": [T1]}
    ]


# --- the throttles at the instant itself (decisions B5, agents.md §4.8) ---------------------------

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def sent(days_ago: float, *, answered: bool = False) -> SentReEngagement:
    return SentReEngagement(at=NOW - timedelta(days=days_ago), answered=answered)


def test_a_re_engagement_sent_this_instant_counts_and_one_not_yet_sent_does_not():
    assert unanswered_streak([sent(0), sent(10), sent(20)], now=NOW, since=None) == 3
    assert unanswered_in_a_row([sent(0)], now=NOW) == 1
    # a send dated after now is skipped, not the end of the walk
    assert unanswered_streak([sent(-1), sent(10)], now=NOW, since=None) == 1
    assert unanswered_in_a_row([sent(-1), sent(10)], now=NOW) == 1


def test_an_already_paused_member_shows_only_the_unanswered_since_the_resume():
    sends = [sent(30), sent(20), sent(15), sent(2)]
    throttle = check_throttles(
        now=NOW, sends=sends, paused=True, resumed_at=NOW - timedelta(days=10), top_score=None
    )
    assert throttle == Paused(unanswered=1, newly=False)


def test_the_cap_counts_a_send_of_this_instant_and_waits_for_the_oldest_to_leave():
    sends = [sent(d, answered=True) for d in (80, 60, 40, 20, 0)]
    assert check_throttles(now=NOW, sends=sends, paused=False, resumed_at=None, top_score=None) == Throttled(
        retry_at=NOW + timedelta(days=10), last_sent_at=NOW, reason=LIMIT_CAP, gap_days=0
    )


def test_the_seven_day_gap_runs_from_a_send_of_this_instant():
    assert check_throttles(
        now=NOW, sends=[sent(0, answered=True)], paused=False, resumed_at=None, top_score=None
    ) == Throttled(retry_at=NOW + timedelta(days=7), last_sent_at=NOW, reason=LIMIT_7_DAYS, gap_days=7)


@pytest.mark.parametrize(
    ("item_types", "lane"),
    [
        (["community_request"], Lane("high", can_delay=False)),
        (["intro_opportunity", "community_request"], Lane("high", can_delay=False)),
        (["community_response"], Lane("high", can_delay=False)),  # an answer to their question
        (["expert_impact", "community_response"], Lane("high", can_delay=False)),
        (["expert_impact"], Lane("medium", can_delay=True)),
        (["intro_opportunity", "solution_update"], Lane("medium", can_delay=True)),
        ([], Lane("medium", can_delay=True)),
    ],
)
def test_an_expert_ask_and_an_answer_take_the_next_slot_and_the_rest_the_best_send_time(
    item_types: list[str], lane: Lane
) -> None:
    assert re_engagement_lane(item_types) == lane
