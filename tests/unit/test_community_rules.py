"""Community rules without a database: matching and the load cap, the credit formula, closure,
and reading an expert's reply (agents.md §7, §8; decisions B8, B18)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import UUID, uuid4

import pytest

from shared.domain import credits
from shared.domain.community import (
    Answer,
    Candidate,
    ClosedReason,
    Pass,
    Referral,
    SkipReason,
    accepts_responses,
    area_hints,
    closure_reason,
    normalize_expertise,
    read_expert_reply,
    select_experts,
)

# 14:00 UTC = 10:00 in New York, 07:00 in Los Angeles (summer time; inside default quiet hours 22-08).
NOW = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)


def candidate(**kw: object) -> Candidate:
    fields: dict[str, object] = {"user_id": uuid4(), "overlap": 1, "timezone": "America/New_York"}
    fields.update(kw)
    return Candidate(**fields)  # type: ignore[arg-type]


def test_expertise_is_trimmed_lowercased_and_deduplicated() -> None:
    assert normalize_expertise(["  Fundraising ", "fundraising", "Board  Governance", ""]) == (
        "fundraising",
        "board governance",
    )
    assert normalize_expertise(None) == ()


def test_at_most_five_experts_in_the_given_order() -> None:
    pool = [candidate() for _ in range(8)]
    chosen = select_experts(pool, requester_ids=[], now=NOW).chosen
    assert chosen == tuple(c.user_id for c in pool[:5])


def test_the_requester_is_never_asked() -> None:
    me = candidate()
    other = candidate()
    selection = select_experts([me, other], requester_ids=[me.user_id], now=NOW)
    assert selection.chosen == (other.user_id,)
    assert selection.skipped == ((me.user_id, SkipReason.REQUESTER),)


def test_an_expert_asked_earlier_today_is_skipped_and_the_next_takes_the_place() -> None:
    busy = candidate(recent_asks=(NOW - timedelta(hours=2),))
    pool = [busy, *(candidate() for _ in range(5))]
    selection = select_experts(pool, requester_ids=[], now=NOW)
    assert busy.user_id not in selection.chosen
    assert len(selection.chosen) == 5
    assert selection.skipped == ((busy.user_id, SkipReason.ASKED_TODAY),)


def test_the_cap_counts_the_experts_own_local_day() -> None:
    # 03:30 UTC today is 23:30 yesterday in New York: a different local day, so no cap.
    yesterday_local = candidate(recent_asks=(datetime(2026, 6, 3, 3, 30, tzinfo=UTC),))
    assert select_experts([yesterday_local], requester_ids=[], now=NOW).chosen == (yesterday_local.user_id,)
    # 13:30 UTC today is 09:30 in New York: the same local day, capped.
    this_morning = candidate(recent_asks=(datetime(2026, 6, 3, 13, 30, tzinfo=UTC),))
    assert select_experts([this_morning], requester_ids=[], now=NOW).chosen == ()


def test_quiet_hours_skip_the_expert_now() -> None:
    sleeping = candidate(timezone="America/Los_Angeles")  # 07:00 local, default 22:00-08:00
    awake = candidate(timezone="America/New_York")
    selection = select_experts([sleeping, awake], requester_ids=[], now=NOW)
    assert selection.chosen == (awake.user_id,)
    assert selection.skipped == ((sleeping.user_id, SkipReason.QUIET_HOURS),)


def test_own_quiet_hours_are_respected() -> None:
    custom = candidate(quiet_hours_start=time(9, 0), quiet_hours_end=time(12, 0))  # 10:00 local
    assert select_experts([custom], requester_ids=[], now=NOW).chosen == ()


@pytest.mark.parametrize(("score", "amount"), [(1, 0), (6, 0), (7, 15), (8, 25), (9, 35), (10, 45)])
def test_expert_credit_formula(score: int, amount: int) -> None:
    assert credits.expert_answer_credits(score) == amount


@pytest.mark.parametrize("score", [0, 11, -3])
def test_scores_outside_one_to_ten_are_refused(score: int) -> None:
    with pytest.raises(ValueError, match="usefulness"):
        credits.expert_answer_credits(score)


def test_ledger_keys_follow_the_spec() -> None:
    rid = UUID("00000000-0000-4000-8000-000000000001")
    assert credits.community_response_key(rid) == f"community_response_{rid}"
    assert credits.intro_completed_key(rid, rid) == f"intro_completed_{rid}_{rid}"
    assert credits.intro_opportunity_bounty(None) == 50
    assert credits.intro_offer_bounty(None) == 25
    assert credits.prospect_conversion_credits() == 25


def test_closure_expired_first() -> None:
    assert (
        closure_reason(status="open", expires_at=NOW, now=NOW, ask_statuses=["asked"], responses_count=0)
        == ClosedReason.EXPIRED
    )


def test_closure_when_every_asked_expert_answered_or_passed() -> None:
    later = NOW + timedelta(days=3)
    assert (
        closure_reason(
            status="responses_received",
            expires_at=later,
            now=NOW,
            ask_statuses=["answered", "passed"],
            responses_count=1,
        )
        == ClosedReason.SUFFICIENT_RESPONSES
    )


def test_no_closure_while_someone_is_still_asked_or_nobody_answered() -> None:
    later = NOW + timedelta(days=3)
    assert (
        closure_reason(
            status="responses_received",
            expires_at=later,
            now=NOW,
            ask_statuses=["answered", "asked"],
            responses_count=1,
        )
        is None
    )
    assert (
        closure_reason(status="open", expires_at=later, now=NOW, ask_statuses=["passed"], responses_count=0)
        is None
    )
    assert (
        closure_reason(status="closed", expires_at=NOW, now=NOW, ask_statuses=[], responses_count=0) is None
    )


def test_finished_or_expired_requests_take_no_answers() -> None:
    later = NOW + timedelta(days=1)
    assert accepts_responses("open", later, NOW)
    assert accepts_responses("responses_received", later, NOW)
    assert not accepts_responses("open", NOW, NOW)
    for status in ("closed", "cancelled", "expired"):
        assert not accepts_responses(status, later, NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pass", Pass()),
        ("Pass.", Pass()),
        ("ask Dana Kim", Referral("Dana Kim")),
        ("Ask  dana", Referral("dana")),
        ("try Dana Kim!", Referral("Dana Kim")),
        (
            "I'd pass on vendor A and ask them about churn",
            Answer("I'd pass on vendor A and ask them about churn"),
        ),
        ("We used Carta; ask for the annual plan.", Answer("We used Carta; ask for the annual plan.")),
        # found on the local stack: "not my area, sorry" was recorded as an answer, to be passed on
        ("not my area, sorry", Pass()),
        ("Sorry, not my area", Pass()),
        ("that's outside my wheelhouse", Pass()),
        ("I don't know", Pass()),
        ("no idea, sorry!", Pass()),
        ("can't help with this one", Pass()),
        ("I'm not the right person for this", Pass()),
        ("I don't know anyone there, sorry", Pass()),
        ("I don't know much about it, sorry", Pass()),
        # a decline that goes on to help is an answer
        ("not my area but try Dana Kim", Answer("not my area but try Dana Kim")),
        ("I don't know anyone at Stripe but Maya", Answer("I don't know anyone at Stripe but Maya")),
        ("We used Gusto, not my area though", Answer("We used Gusto, not my area though")),
    ],
)
def test_reading_the_experts_reply(text: str, expected: object) -> None:
    assert read_expert_reply(text) == expected


@pytest.mark.parametrize(
    ("text", "areas"),
    [
        ("negotiating a term sheet with a lead investor", ["fundraising", "venture capital"]),
        ("any VCs in the network?", ["fundraising", "venture capital"]),
        ("any advice on freight operations into Mexico?", ["freight"]),
        ("who does your FP&A and tax?", ["finance"]),
        ("we're hiring a head of sales", ["hiring", "sales"]),
        ("I'd praise their raised-bed gardens", []),  # words, not parts of words
        ("a good dentist in Austin", []),
        ("how do I raise prices for enterprise customers?", []),
    ],
)
def test_area_hints_name_the_areas_a_question_is_about(text: str, areas: list[str]) -> None:
    assert area_hints(text) == areas


def test_area_hints_leave_out_the_areas_already_asked_for() -> None:
    assert area_hints("raising a seed round", known=["Fundraising"]) == []
