"""agents.md §4.8's other loop protections (on top of decisions B5), each boundary on both sides: at
most 5 re-engagements in 90 days, and a backoff of 7 -> 14 -> 30 -> 60 -> 90 days; and the 2-3 SMS
structures of one re-engagement (single, primary + secondary, reassurance + update + opportunity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.agents.concierge import render
from shared.domain.constants import (
    RE_ENGAGEMENT_BACKOFF_DAYS,
    RE_ENGAGEMENT_MAX_PER_WINDOW,
    RE_ENGAGEMENT_OVERRIDE_SCORE,
    RE_ENGAGEMENT_PAUSE_WINDOW,
)
from shared.domain.reengagement import (
    LIMIT_7_DAYS,
    LIMIT_BACKOFF,
    LIMIT_CAP,
    Paused,
    Proceed,
    SentReEngagement,
    Throttled,
    backoff_gap,
    check_throttles,
    sequence_parts,
    sequence_structure,
    unanswered_in_a_row,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def sent(ago: timedelta, *, answered: bool = False) -> SentReEngagement:
    return SentReEngagement(at=NOW - ago, answered=answered)


def throttle(*sends: SentReEngagement, resumed_at: Any = None, top: Any = None) -> Any:
    return check_throttles(now=NOW, sends=list(sends), paused=False, resumed_at=resumed_at, top_score=top)


def test_the_backoff_ladder_is_the_specs():
    assert RE_ENGAGEMENT_BACKOFF_DAYS == (7, 14, 30, 60, 90)
    assert [backoff_gap(n).days for n in range(8)] == [7, 7, 14, 30, 60, 90, 90, 90]


@pytest.mark.parametrize(("unanswered", "days"), [(1, 7), (2, 14)])
def test_the_backoff_gap_both_sides(unanswered, days):
    """The last send ``days`` ago is allowed; a second less is throttled until exactly then."""
    earlier = [sent(timedelta(days=days) + n * 40 * DAY) for n in range(1, unanswered)]
    inside = throttle(sent(timedelta(days=days) - SECOND), *earlier)
    assert isinstance(inside, Throttled) and inside.retry_at == NOW + SECOND
    assert inside.reason == (LIMIT_7_DAYS if days == 7 else LIMIT_BACKOFF) and inside.gap_days == days
    assert throttle(sent(timedelta(days=days)), *earlier) == Proceed()


@pytest.mark.parametrize(("unanswered", "days"), [(3, 30), (4, 60), (5, 90)])
def test_the_long_backoff_steps_after_a_resume(unanswered, days):
    """Past 2 unanswered the member is paused; an operator's resume lifts the pause but not the
    backoff, so a resumed member who still answers nothing waits 30, 60, then 90 days."""
    last = timedelta(days=days)
    earlier = [sent(last + n * DAY) for n in range(1, unanswered)]  # close together, in a row
    resumed = NOW - last + SECOND  # after every send: the pause's count starts again from zero
    inside = throttle(sent(last - SECOND), *earlier, resumed_at=resumed - SECOND)
    assert isinstance(inside, Throttled) and inside.reason == LIMIT_BACKOFF and inside.gap_days == days
    # at the boundary the cap may still apply (5 in 90 days): what matters is the backoff lets it go
    outcome = throttle(sent(last), *earlier, resumed_at=resumed)
    assert outcome == Proceed() or (isinstance(outcome, Throttled) and outcome.reason == LIMIT_CAP)


def test_an_answer_resets_the_backoff():
    sends = [sent(10 * DAY), sent(20 * DAY, answered=True), sent(30 * DAY), sent(40 * DAY)]
    assert unanswered_in_a_row(sends, now=NOW) == 1
    assert throttle(*sends) == Proceed()  # 7 days after one unanswered, not 30


def test_a_critical_priority_skips_the_backoff_but_not_the_pause_or_the_cap():
    two = [sent(10 * DAY), sent(30 * DAY)]  # 14 days needed, 10 passed
    assert isinstance(throttle(*two, top=RE_ENGAGEMENT_OVERRIDE_SCORE), Throttled)
    assert throttle(*two, top=RE_ENGAGEMENT_OVERRIDE_SCORE + 1) == Proceed(override=True)
    five = [sent(n * 8 * DAY, answered=True) for n in range(1, 6)]
    assert isinstance(throttle(*five, top=100), Throttled)


def test_at_most_five_in_ninety_days_both_sides():
    assert RE_ENGAGEMENT_MAX_PER_WINDOW == 5
    four = [sent(n * 15 * DAY, answered=True) for n in range(1, 5)]  # 15..60 days ago, all answered
    assert throttle(*four) == Proceed()
    oldest = sent(RE_ENGAGEMENT_PAUSE_WINDOW - SECOND, answered=True)  # still in the window
    capped = throttle(*four, oldest)
    assert isinstance(capped, Throttled) and capped.reason == LIMIT_CAP
    assert capped.retry_at == NOW + SECOND  # when the oldest leaves the window
    assert throttle(*four, sent(RE_ENGAGEMENT_PAUSE_WINDOW, answered=True)) == Proceed()  # just left
    assert throttle(*four, sent(RE_ENGAGEMENT_PAUSE_WINDOW + SECOND, answered=True)) == Proceed()


def test_a_paused_member_stays_paused_before_any_cap():
    three = [sent(d * DAY) for d in (40, 50, 60)]
    assert isinstance(throttle(*three), Paused)


# --- The 2-3 SMS of one re-engagement --------------------------------------------------------------

T1 = {"item_type": "intro_opportunity", "summary": "Intro Pat Lee at Globex"}
T2 = {"item_type": "connection_request", "summary": "Dana Wu wants to meet you"}


def test_the_structure_follows_what_there_is_to_say():
    assert sequence_structure("sequence_3", threads=2, reassurance=True) == "sequence_3"
    assert sequence_structure("sequence_3", threads=2, reassurance=False) == "sequence_2"
    assert sequence_structure("sequence_3", threads=1, reassurance=True) == "single"
    assert sequence_structure("sequence_2", threads=2, reassurance=True) == "sequence_2"
    assert sequence_structure("sequence_2", threads=1, reassurance=False) == "single"
    assert sequence_structure("single", threads=2, reassurance=True) == "single"


def test_sequence_parts_one_row_per_sms():
    single = sequence_parts("single", [T1, T2], None, kind="re_engagement")
    assert single == [{"kind": "re_engagement", "structure": "single", "threads": [T1, T2]}]
    two = sequence_parts("sequence_2", [T1, T2], None, kind="re_engagement")
    assert [(p["part"], p["threads"]) for p in two] == [("primary", [T1]), ("secondary", [T2])]
    three = sequence_parts("sequence_3", [T1, T2], "SOC 2 vendors", kind="re_engagement")
    assert [p["part"] for p in three] == ["reassurance", "update", "opportunity"]
    assert three[0]["own_request"] == "SOC 2 vendors" and "threads" not in three[0]
    assert {p["structure"] for p in three} == {"sequence_3"}


def test_each_part_renders_as_its_own_sms_from_its_data_only():
    three = sequence_parts("sequence_3", [T1, T2], "SOC 2 vendors", kind="re_engagement")
    texts = [render.template(p) for p in three]
    assert texts[0] == "Your question about SOC 2 vendors is still open with the network."
    assert texts[1] == "Following up on this: Intro Pat Lee at Globex."
    assert texts[2] is not None and "Dana Wu wants to meet you" in texts[2] and "Pat Lee" not in texts[2]
    assert render.template({"kind": "re_engagement", "part": "reassurance"}) is None  # nothing to say
    assert render.template({"kind": "re_engagement", "part": "made-up", "threads": [T1]}) is None
