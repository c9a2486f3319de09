"""The product gaps the member stories through ``make run`` exposed (issues 9, 10, 11), each pinned
at the lowest tier that shows it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.agents.concierge import render
from shared.agents.concierge.agent import ConciergeAgent
from shared.domain.constants import RE_ENGAGEMENT_OVERRIDE_SCORE
from shared.domain.priorities import (
    EXPERT_IMPACT_SCORE,
    URGENT_SCORE,
    Candidate,
    ItemType,
    Member,
    fallback_score,
)
from shared.service_layer import concierge
from shared.service_layer.consumer import Delivery
from shared.service_layer.deps import Deps

NOW = datetime(2026, 6, 3, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("handler", [concierge.handle_turn_event, concierge.handle_innovator_turn_event])
def test_the_deployed_turn_handlers_can_record_an_experts_answer(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn that agent_concierge / agent_innovator run must carry the Community service: without
    it record_community_response and cancel_community_request failed on every real turn."""
    agents: list[ConciergeAgent] = []

    class _Result:
        status, path, bodies = "answered", "rules", ["ok"]

    def _run(agent: ConciergeAgent, user_id: uuid.UUID, deps: Deps) -> _Result:
        agents.append(agent)
        return _Result()

    monkeypatch.setattr(concierge, "_run", _run)
    delivery = Delivery(
        kind="event",
        id=uuid.uuid4(),
        type="message.received",
        attempt=1,
        published_at=NOW,
        data={},
        attributes={},
        user_id=uuid.uuid4(),
    )
    handler(delivery, None, None)
    [agent] = agents
    assert agent.community is not None
    assert agent.new_state().community is not None


def test_a_fresh_ask_on_the_experts_own_expertise_is_urgent_offline() -> None:
    """With no LLM the expert's ask must still be presented: fresh and matched, it scores above 80
    (priority.update), and stale or unmatched it does not."""
    expert = Member(uuid.uuid4(), expertise=("fundraising", "venture capital"))
    fresh = Candidate(
        ItemType.COMMUNITY_REQUEST,
        uuid.uuid4(),
        created_at=NOW,
        text="Who knows fundraising?",
        expertise=("fundraising",),
    )
    assert fallback_score(fresh, expert, NOW)[0] > URGENT_SCORE
    stale = Candidate(
        ItemType.COMMUNITY_REQUEST,
        uuid.uuid4(),
        created_at=NOW - timedelta(days=6),
        text="Who knows?",
        expertise=("fundraising",),
    )
    assert fallback_score(stale, expert, NOW)[0] <= URGENT_SCORE
    unmatched = Candidate(
        ItemType.COMMUNITY_REQUEST, uuid.uuid4(), created_at=NOW, text="Who knows?", expertise=("legal",)
    )
    assert fallback_score(unmatched, expert, NOW)[0] <= URGENT_SCORE


def test_the_impact_note_announces_itself_and_may_skip_the_seven_day_gap() -> None:
    assert EXPERT_IMPACT_SCORE > RE_ENGAGEMENT_OVERRIDE_SCORE > URGENT_SCORE


def test_the_template_relays_news_as_it_stands_and_invites_an_experts_answer() -> None:
    answer = 'Priya answered your question "Who knows fundraising?": Talk to angels first.'
    assert render.template({"threads": [{"item_type": "community_response", "summary": answer}]}) == answer
    impact = {
        "item_type": "expert_impact",
        "summary": "Your answer reached the member. You earned 25 credits",
    }
    assert render.template({"threads": [impact]}) == "Your answer reached the member. You earned 25 credits."
    ask = render.template(
        {"threads": [{"item_type": "community_request", "summary": "Who knows fundraising?"}]}
    )
    assert ask is not None and "Who knows fundraising?" in ask and "pass" in ask
    mixed = render.template(
        {"threads": [{"item_type": "intro_opportunity", "summary": "Intro Pat Lee"}, impact]}
    )
    assert mixed is not None and mixed.startswith("Two open items")
