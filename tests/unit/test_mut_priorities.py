"""The Account Manager's arithmetic pinned to exact values (agents.md §6, §13; decisions B9): the
offline brain's parts and its reason text, rounding and clamping, the ranking's tie-breaks, the
urgent line, the fingerprint an LLM score is kept by, and every source status."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.priorities import (
    Candidate,
    ItemType,
    Member,
    ScoreSource,
    Transition,
    _clamp,
    cut,
    fallback_score,
    has_goal_keywords,
    is_dormant,
    keywords,
    rank,
    score_connection_request,
    score_intro_opportunity,
    score_offer_for_connector,
    score_offer_for_introducee,
    source_transition,
    urgent,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
NOBODY = Member(uuid.UUID(int=1))


def item(kind: ItemType = ItemType.INTRO_OPPORTUNITY, **fields: object) -> Candidate:
    values: dict[str, object] = {"created_at": NOW}
    values.update(fields)
    return Candidate(kind, uuid.UUID(int=7), **values)  # type: ignore[arg-type]


# --- the offline brain --------------------------------------------------------------------------


def test_an_unlisted_type_scores_from_45_and_a_fresh_item_gets_the_full_15_for_recency():
    assert fallback_score(item(), NOBODY, NOW) == (
        60.0,
        "fallback: base 45, recency 15, expertise 0, credits 0, goal keywords 0",
    )


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        (ItemType.COMMUNITY_REQUEST, 60),
        (ItemType.GOAL, 55),
        (ItemType.CHALLENGE, 55),
        (ItemType.SOLUTION_UPDATE, 60),
        (ItemType.CONNECTION_REQUEST, 45),
    ],
)
def test_the_base_per_type(kind: ItemType, base: int):
    score, reason = fallback_score(item(kind, created_at=NOW - 14 * DAY), NOBODY, NOW)
    assert score == base
    assert reason.startswith(f"fallback: base {base}, recency 0,")


@pytest.mark.parametrize(
    ("age", "recency"),
    [
        (-3 * DAY, 15.0),  # created "in the future" (clock skew): as fresh as now, no more
        (timedelta(0), 15.0),
        (DAY, 13.93),  # 15 * 13/14, rounded to two places
        (7 * DAY, 7.5),
        (14 * DAY, 0.0),
        (28 * DAY, 0.0),  # never negative
    ],
)
def test_recency_falls_linearly_over_fourteen_days(age: timedelta, recency: float):
    score, _ = fallback_score(item(created_at=NOW - age), NOBODY, NOW)
    assert score == 45 + recency


def test_expertise_matches_whole_areas_and_words_ten_each_capped_at_twenty():
    old = NOW - 14 * DAY

    def expertise_part(member_areas: tuple[str, ...], **fields: object) -> str:
        candidate = item(ItemType.INTRO_OPPORTUNITY, created_at=old, **fields)
        _, reason = fallback_score(candidate, Member(uuid.UUID(int=2), member_areas), NOW)
        return reason.split(", ")[2]

    assert expertise_part(("finance",), expertise=("Finance",)) == "expertise 10"
    assert expertise_part(("Pricing",), category="pricing strategy") == "expertise 10"
    # A word of the area matches a word of the member's area.
    assert expertise_part(("pricing strategy",), expertise=("B2B pricing",)) == "expertise 10"
    # A whole match is not counted again as a word match.
    assert expertise_part(("pricing",), expertise=("pricing",)) == "expertise 10"
    # A multi-word area matched whole counts once more for each of its keywords (here one:
    # "ai" is too short to be a keyword).
    assert expertise_part(("ai safety",), expertise=("AI Safety",)) == "expertise 20"
    assert expertise_part(("tax",), expertise=("legal",)) == "expertise 0"
    assert expertise_part((), expertise=("legal",)) == "expertise 0"
    assert expertise_part(("legal", "tax"), expertise=("legal", "tax")) == "expertise 20"
    assert expertise_part(("legal", "tax", "hiring"), expertise=("legal", "tax", "hiring")) == "expertise 20"


@pytest.mark.parametrize(
    ("credits", "part", "score"), [(7, "credits 1", 46.4), (25, "credits 5", 50), (100, "credits 10", 55)]
)
def test_credits_offered_count_a_fifth_capped_at_ten(credits: int, part: str, score: float):
    got, reason = fallback_score(item(created_at=NOW - 14 * DAY, credits=credits), NOBODY, NOW)
    assert got == score
    assert part in reason


def test_goal_keywords_count_five_each_capped_at_fifteen_except_for_goals_themselves():
    old = NOW - 14 * DAY
    member = Member(uuid.UUID(int=3), goal_text="raise a seed round with better pricing and hiring")
    one = item(ItemType.COMMUNITY_REQUEST, created_at=old, text="seed questions")
    assert fallback_score(one, member, NOW) == (
        65.0,
        "fallback: base 60, recency 0, expertise 0, credits 0, goal keywords 5",
    )
    by_category = item(ItemType.COMMUNITY_REQUEST, created_at=old, text="", category="hiring")
    assert fallback_score(by_category, member, NOW)[0] == 65.0
    many = item(ItemType.COMMUNITY_REQUEST, created_at=old, text="seed round pricing hiring raise")
    assert fallback_score(many, member, NOW)[0] == 75.0
    goal = item(ItemType.GOAL, created_at=old, text="seed round pricing")
    challenge = item(ItemType.CHALLENGE, created_at=old, text="seed round pricing")
    assert fallback_score(goal, member, NOW)[0] == 55.0
    assert fallback_score(challenge, member, NOW)[0] == 55.0


def test_the_offline_score_is_clamped_at_100():
    member = Member(uuid.UUID(int=4), expertise=("legal", "tax"), goal_text="seed round pricing hiring")
    rich = item(
        ItemType.COMMUNITY_REQUEST,
        expertise=("legal", "tax"),
        credits=500,
        text="seed round pricing hiring",
    )
    assert fallback_score(rich, member, NOW)[0] == 100.0


def test_keywords_drop_short_words_and_filler():
    assert keywords("The CTO and I need help with SOC2, k8s and c++") == {"cto", "soc2", "k8s", "c++"}
    assert keywords("looking trying working anyone know best good about") == set()


def test_clamp_rounds_to_two_places_and_bounds_0_to_100():
    assert _clamp(-5) == 0.0
    assert _clamp(100.5) == 100.0
    assert _clamp(12.3456) == 12.35
    assert _clamp(0.004) == 0.0


# --- the intro-flow table at its edges ----------------------------------------------------------


def test_intro_table_edges():
    assert (
        score_intro_opportunity(bounty_credits=1, connection_strength="x", age=3 * DAY - timedelta(seconds=1))
        == 60.5
    )
    assert (
        score_connection_request(vouches=0, requestor_credits_spent=1, age=2 * DAY - timedelta(seconds=1))
        == 75.2
    )
    assert (
        score_connection_request(vouches=0, requestor_credits_spent=0, age=14 * DAY + timedelta(seconds=1))
        == 50
    )
    assert (
        score_offer_for_introducee(bounty_credits=1, context_type="x", age=2 * DAY - timedelta(seconds=1))
        == 65.5
    )
    assert score_offer_for_introducee(bounty_credits=0, context_type="x", age=2 * DAY) == 55
    assert score_offer_for_connector(age=DAY - timedelta(seconds=1)) == 85
    assert score_offer_for_connector(age=DAY) == 70
    assert score_connection_request(vouches=-4, requestor_credits_spent=0, age=5 * DAY) == 0.0


# --- ranking ------------------------------------------------------------------------------------


def test_rank_orders_pins_then_score_then_newest_then_type_then_id():
    def c(
        n: int, score: float, *, kind: ItemType = ItemType.GOAL, age: timedelta = DAY, pinned: bool = False
    ) -> Candidate:
        return Candidate(kind, uuid.UUID(int=n), NOW - age, score=score, pinned=pinned)

    zero = c(1, 0.0)
    half = c(2, 0.5)
    older = c(3, 70.0, age=2 * DAY)
    newer = c(4, 70.0)
    goal = c(6, 50.0)
    challenge = c(7, 50.0, kind=ItemType.CHALLENGE)
    low_id = c(8, 40.0)
    high_id = c(9, 40.0)
    pinned = c(10, 1.0, pinned=True)
    everything = [zero, half, older, newer, goal, challenge, low_id, high_id, pinned]
    assert rank(reversed(everything)) == [pinned, newer, older, challenge, goal, low_id, high_id, half, zero]
    assert rank(everything, limit=2) == [pinned, newer]
    assert len(rank([c(n, float(n)) for n in range(20, 40)])) == 10


def test_urgent_means_above_80():
    at_80 = item(score=80.0)
    above = item(score=80.01)
    unscored = item(score=None)
    assert urgent([at_80, above, unscored]) == [above]


# --- identity -----------------------------------------------------------------------------------


def test_the_key_and_the_fingerprint_of_an_item():
    goal = Candidate(
        ItemType.GOAL,
        uuid.UUID(int=5),
        NOW,
        text="Raise a seed round",
        category="finance",
        expertise=("fundraising", "pricing"),
        credits=20,
    )
    assert goal.key == ("goal", uuid.UUID(int=5))
    basis = "goal|Raise a seed round|finance|fundraising,pricing|20"
    assert goal.fingerprint == hashlib.sha256(basis.encode()).hexdigest()[:32]
    bare = Candidate(ItemType.CHALLENGE, uuid.UUID(int=5), NOW)
    assert bare.fingerprint == hashlib.sha256(b"challenge||||0").hexdigest()[:32]


def test_a_candidate_starts_unscored_and_unpresented():
    bare = Candidate(ItemType.GOAL, uuid.UUID(int=5), NOW)
    assert (bare.score, bare.source, bare.pinned, bare.presented) == (None, ScoreSource.RULES, False, False)
    assert (bare.presentation_count, bare.credits, bare.metadata) == (0, 0, {})


# --- source statuses, keywords, dormancy, cut ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", Transition.KEEP),
        ("presented", Transition.KEEP),
        ("clarifying", Transition.KEEP),
        ("responses_received", Transition.KEEP),
        ("pending_introducee_response", Transition.KEEP),
        ("accepted", Transition.ACTIONED),
        ("actioned", Transition.ACTIONED),
        ("completed", Transition.ACTIONED),
        ("confirmed", Transition.ACTIONED),
        ("pending_connector_confirmation", Transition.ACTIONED),
        ("declined", Transition.EXPIRED),
        ("rejected", Transition.EXPIRED),
        ("introducee_declined", Transition.EXPIRED),
        ("connector_declined", Transition.EXPIRED),
        ("closed", Transition.EXPIRED),
        ("dormant", Transition.DORMANT),
        ("cancelled", Transition.REMOVED),
        ("expired", Transition.REMOVED),
        ("paused", Transition.REMOVED),
        ("", Transition.REMOVED),
        (None, Transition.REMOVED),
    ],
)
def test_every_source_status(status: str | None, expected: Transition):
    assert source_transition(status) is expected


@pytest.mark.parametrize(
    "text",
    [
        "My GOAL is revenue",
        "trying to hire",
        "working on pricing",
        "a challenge",
        "one problem left",
        "struggling with churn",
        "an opportunity in retail",
        "looking for a CFO",
    ],
)
def test_each_goal_keyword_triggers_a_run(text: str):
    assert has_goal_keywords(text)


def test_goal_keywords_need_whole_words():
    assert not has_goal_keywords("problematic goals")
    assert not has_goal_keywords("")


def test_two_presentations_make_an_item_dormant():
    assert [is_dormant(n) for n in (0, 1, 2, 3)] == [False, False, True, True]


def test_cut_flattens_whitespace_and_ends_long_text_with_an_ellipsis():
    assert cut("  a   b\n c ", 10) == "a b c"
    assert cut("abcde", 5) == "abcde"
    assert cut("abcdef", 5) == "abcd…"
    assert cut("abc defgh", 5) == "abc…"  # the space before the cut is dropped
