"""The Account Manager's rules: the §6 intro-flow table case by case, the offline brain, ranking,
source transitions, the inbound keywords, and the batched scoring call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared import routing
from shared.adapters.llm import build_params
from shared.agents.account_manager.scoring import SCORE_ITEMS, SYSTEM, build_request, score_with_llm
from shared.domain.priorities import (
    LLM_ITEMS_PER_CALL,
    Candidate,
    ItemType,
    Member,
    ScoreSource,
    Transition,
    fallback_score,
    has_goal_keywords,
    rank,
    score_connection_request,
    score_intro_opportunity,
    score_offer_for_connector,
    score_offer_for_introducee,
    source_transition,
)
from tests.fakes.llm import ScriptedLlm, ScriptedReply

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


# --- intro_opportunity: 50 + min(bounty/2, 30); +15 first degree, +5 second; +10 under 3 days ---------
@pytest.mark.parametrize(
    ("bounty", "strength", "age", "expected"),
    [
        (0, "unknown", 5 * DAY, 50),
        (50, "unknown", 5 * DAY, 75),  # the default bounty
        (60, "unknown", 5 * DAY, 80),  # bounty/2 = 30: the cap
        (200, "unknown", 5 * DAY, 80),  # capped at 30
        (50, "first_degree", 5 * DAY, 90),
        (50, "second_degree", 5 * DAY, 80),
        (50, "third_degree", 5 * DAY, 75),  # no adjustment
        (50, "unknown", 2 * DAY, 85),  # under 3 days
        (50, "unknown", 3 * DAY, 75),  # exactly 3 days: not under
        (60, "first_degree", timedelta(hours=1), 100),  # 50 + 30 + 15 + 10 = 105, clamped
        (7, "unknown", 5 * DAY, 53.5),
    ],
)
def test_intro_opportunity_table(bounty, strength, age, expected):
    assert score_intro_opportunity(bounty_credits=bounty, connection_strength=strength, age=age) == expected


# --- connection_request: 60 + 20/vouch + min(credits/5, 15); +15 under 2 days; -10 over 14 days ------
@pytest.mark.parametrize(
    ("vouches", "credits", "age", "expected"),
    [
        (0, 0, 5 * DAY, 60),
        (1, 0, 5 * DAY, 80),
        (2, 0, 5 * DAY, 100),
        (3, 0, 5 * DAY, 100),  # clamped at 100
        (0, 50, 5 * DAY, 70),
        (0, 75, 5 * DAY, 75),  # credits/5 = 15: the cap
        (0, 500, 5 * DAY, 75),
        (0, 0, DAY, 75),  # under 2 days
        (0, 0, 2 * DAY, 60),  # exactly 2 days: neither
        (0, 0, 14 * DAY, 60),  # exactly 14 days: not over
        (0, 0, 15 * DAY, 50),  # over 14 days
    ],
)
def test_connection_request_table(vouches, credits, age, expected):
    assert score_connection_request(vouches=vouches, requestor_credits_spent=credits, age=age) == expected


# --- intro_offer to the introducee: 55 + min(bounty/2, 25); +10 community request, +5 nomination; +10 < 2 d
@pytest.mark.parametrize(
    ("bounty", "context", "age", "expected"),
    [
        (0, "spontaneous", 3 * DAY, 55),
        (0, "connection_request", 3 * DAY, 55),
        (0, "community_request", 3 * DAY, 65),
        (0, "nomination", 3 * DAY, 60),
        (30, "spontaneous", 3 * DAY, 70),
        (50, "spontaneous", 3 * DAY, 80),  # bounty/2 = 25: the cap
        (80, "spontaneous", 3 * DAY, 80),
        (0, "spontaneous", DAY, 65),
        (50, "community_request", DAY, 100),  # 55 + 25 + 10 + 10
    ],
)
def test_intro_offer_for_the_introducee_table(bounty, context, age, expected):
    assert score_offer_for_introducee(bounty_credits=bounty, context_type=context, age=age) == expected


# --- intro_offer to the connector (pending confirmation): 70; +15 under 1 day ---------------------
@pytest.mark.parametrize(("age", "expected"), [(timedelta(hours=3), 85), (DAY, 70), (5 * DAY, 70)])
def test_intro_offer_for_the_connector_table(age, expected):
    assert score_offer_for_connector(age=age) == expected


def _item(kind: ItemType = ItemType.COMMUNITY_REQUEST, **fields: object) -> Candidate:
    defaults: dict[str, object] = {"created_at": NOW - DAY, "text": "How should we price a seed round?"}
    defaults.update(fields)
    return Candidate(kind, uuid.uuid4(), **defaults)  # type: ignore[arg-type]


def test_the_offline_brain_uses_recency_expertise_credits_and_goal_keywords():
    member = Member(uuid.uuid4(), expertise=("finance", "pricing"), goal_text="raise a seed round")
    plain = _item(expertise=("legal",), text="Which law firm?")
    base, _ = fallback_score(plain, member, NOW)
    assert (
        fallback_score(
            _item(expertise=("legal",), text="Which law firm?", created_at=NOW - 30 * DAY), member, NOW
        )[0]
        < base
    )  # recency
    assert fallback_score(_item(expertise=("finance",), text="Which law firm?"), member, NOW)[0] == base + 10
    assert (
        fallback_score(_item(expertise=("legal",), text="Which law firm?", credits=50), member, NOW)[0]
        == base + 10
    )
    with_goal, reason = fallback_score(
        _item(expertise=("legal",), text="Which law firm for a seed round?"), member, NOW
    )
    assert with_goal == base + 10 and "goal keywords 10" in reason
    assert fallback_score(_item(expertise=("finance", "pricing", "tax")), member, NOW)[0] <= 100


def test_rank_keeps_ten_pins_first_and_is_stable():
    items = [_item(ItemType.INTRO_OPPORTUNITY, score=float(s)) for s in range(50, 65)]
    pinned = _item(ItemType.COMMUNITY_RESPONSE, score=90.0, pinned=True)
    higher = _item(ItemType.CONNECTION_REQUEST, score=99.0)
    top = rank([*items, pinned, higher])
    assert len(top) == 10 and top[0] is pinned and top[1] is higher
    assert [c.score for c in top[2:]] == [64, 63, 62, 61, 60, 59, 58, 57]
    assert rank(list(reversed([*items, pinned, higher]))) == top
    assert rank([_item(score=None)]) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", Transition.KEEP),
        ("presented", Transition.KEEP),
        ("accepted", Transition.ACTIONED),
        ("completed", Transition.ACTIONED),
        ("pending_connector_confirmation", Transition.ACTIONED),
        ("declined", Transition.EXPIRED),
        ("introducee_declined", Transition.EXPIRED),
        ("cancelled", Transition.REMOVED),
        ("expired", Transition.REMOVED),
        ("paused", Transition.REMOVED),
        ("dormant", Transition.DORMANT),
        (None, Transition.REMOVED),  # the row vanished
        ("something_new", Transition.REMOVED),
    ],
)
def test_source_status_decides_the_priority(status, expected):
    assert source_transition(status) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My goal this quarter is a CFO hire", True),
        ("we're trying to raise", True),
        ("Working on a pricing change", True),
        ("biggest challenge is churn", True),
        ("Looking for a fractional CTO", True),
        ("thanks, sounds good", False),
        ("goalkeeper training tonight", False),
    ],
)
def test_goal_keywords(text, expected):
    assert has_goal_keywords(text) is expected


def test_one_call_scores_a_batch_with_a_cached_static_prefix_and_validated_output():
    member = Member(uuid.uuid4(), expertise=("finance",), title="CFO")
    items = [_item() for _ in range(3)]
    llm = ScriptedLlm(
        ScriptedReply(
            tool_uses=[
                (
                    "score_items",
                    {
                        "scores": [
                            {"key": "i1", "score": 88, "reason": "direct match"},
                            {"key": "i2", "score": 140},  # out of range: the whole call is invalid
                        ]
                    },
                )
            ]
        ),
        ScriptedReply(
            tool_uses=[("score_items", {"scores": [{"key": "i1", "score": 88}, {"key": "i9", "score": 1}]})]
        ),
    )
    invalid = score_with_llm(llm, member, items, NOW)
    assert invalid.calls == 1 and invalid.failed_calls == 1 and invalid.scores == {}
    partial = score_with_llm(llm, member, items, NOW)
    assert set(partial.scores) == {"i1"}  # unknown keys are ignored; missing ones fall back
    params = build_params(llm.requests[0], llm.requests[0].settings)
    assert params["system"][0]["text"] == SYSTEM and params["system"][0]["cache_control"] == {
        "type": "ephemeral"
    }
    assert params["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert params["tool_choice"] == {"type": "tool", "name": SCORE_ITEMS.name}
    # The static prefix is identical for every member and batch: one cache entry serves them all.
    other = build_request(Member(uuid.uuid4()), [("i1", _item())], NOW)
    assert other.system == llm.requests[0].system and other.tools == llm.requests[0].tools


def test_large_batches_split_into_calls_of_the_batch_size():
    member = Member(uuid.uuid4())
    llm = ScriptedLlm(*[ScriptedReply(tool_uses=[("score_items", {"scores": []})]) for _ in range(2)])
    result = score_with_llm(llm, member, [_item() for _ in range(LLM_ITEMS_PER_CALL + 1)], NOW)
    assert result.calls == 2 and len(llm.requests) == 2


def test_the_account_manager_consumes_user_verified_and_its_outputs_are_recorded():
    assert routing.EVENT_ROUTES["user.verified"] == "account_manager"
    assert "user.verified" not in routing.RECORD_ONLY_EVENTS
    # priority.update goes to the member's point of contact (shared.service_layer.reengagement).
    assert routing.route_event("priority.update", False, None) is None
    assert routing.CONSUMERS["account_manager"].function == "agent_account_manager"
    assert str(ScoreSource.LLM) == "llm"
