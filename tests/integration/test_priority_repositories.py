"""The Account Manager's repositories on real Postgres: typed rows in, typed rows out
(uow.priorities, uow.priority_sources, and its reads of events, messages and tasks)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.repositories.priorities import MemberPriority, RankedPriority
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tests.account_manager_support import (
    NOW,
    community_request,
    community_response,
    connection_request,
    event,
    intro_offer,
    intro_opportunity,
    member,
)
from tests.bouncer_support import new_user, say

pytestmark = pytest.mark.integration


def ranked(item_id: Any, rank: int = 1, **fields: Any) -> RankedPriority:
    base: dict[str, Any] = dict(
        priority_rank=rank,
        item_type="goal",
        item_id=item_id,
        value_score=72.5,
        status="active",
        content="Hire a CFO",
        presentation_count=0,
        last_presented_at=None,
        item_summary="Hire a CFO",
        item_primary_name=None,
        item_secondary_name=None,
        item_context=None,
        item_metadata={"message_id": str(item_id), "at": NOW},
        expires_at=NOW + timedelta(days=90),
        score_source="llm",
        score_fingerprint="f1",
        score_reason="on their mind",
        scored_at=NOW,
    )
    base.update(fields)
    return RankedPriority(**base)


def test_written_priorities_read_back_typed_and_a_rewrite_keeps_a_presented_status(db):
    ana = member(db)
    goal, other = uuid.uuid4(), uuid.uuid4()
    with PostgresUnitOfWork() as uow:
        uow.priorities.write(ana, [ranked(goal), ranked(other, rank=2, value_score=None, item_metadata=None)])
        uow.priorities.write(ana, [])  # nothing to write: no statement
        uow.commit()
    db.execute("UPDATE user_priorities SET status = 'presented' WHERE item_id = %s", (goal,))
    with PostgresUnitOfWork() as uow:
        uow.priorities.write(ana, [ranked(goal, value_score=80.0)])
        rows = uow.priorities.of_member(ana)
    first, second = rows
    assert isinstance(first, MemberPriority) and first.key == ("goal", goal)
    assert first.value_score == 80.0 and isinstance(first.value_score, float)
    assert first.status == "presented"  # a presented row keeps its status
    assert second.value_score is None and second.metadata == {}
    assert first.scored_at == NOW and first.score_source == "llm" and first.presentation_count == 0


def test_status_moves_and_deletes_touch_only_the_members_rows(db):
    ana, ben = member(db), member(db, first="Ben")
    item = uuid.uuid4()
    with PostgresUnitOfWork() as uow:
        uow.priorities.write(ana, [ranked(item)])
        uow.priorities.write(ben, [ranked(item)])
        ana_row = uow.priorities.of_member(ana)[0]
        assert uow.priorities.set_status(ben, [ana_row.id], "dormant") == 0  # not Ben's row
        assert uow.priorities.set_status(ana, [], "dormant") == 0
        assert uow.priorities.set_status(ana, [ana_row.id], "expired") == 1
        assert uow.priorities.set_item_status(ben, "goal", item, "actioned") == 1
        assert uow.priorities.delete(ana, []) == 0
        assert sorted(map(str, uow.priorities.delete_for_items("goal", [item]))) == sorted(
            [str(ana), str(ben)]
        )
        assert uow.priorities.of_member(ana) == [] and uow.priorities.of_member(ben) == []


def test_managed_member_with_and_without_a_watermark(db):
    ana = member(db, expertise=("finance",))
    with PostgresUnitOfWork() as uow:
        assert uow.priorities.managed_member(uuid.uuid4()) is None
        fresh = uow.priorities.managed_member(ana)
        assert fresh is not None and fresh.events_read_until is None and fresh.runs == 0
        assert fresh.expertise == ("finance",) and fresh.verified and fresh.answers_given == 0
        uow.priorities.advance_watermark(ana, events_read_until=NOW, now=NOW, trigger="test")
        uow.priorities.advance_watermark(
            ana, events_read_until=NOW - timedelta(days=1), now=NOW, trigger="t2"
        )
        again = uow.priorities.managed_member(ana)
    assert again is not None and again.events_read_until == NOW and again.runs == 2  # never moves back


def test_candidate_sources_come_back_typed(db):
    ana, ben = member(db), member(db, first="Ben")
    opportunity = intro_opportunity(db, ana, bounty=80, strength="first_degree")
    request = connection_request(db, ana, ben, vouches=2)
    offer = intro_offer(db, ben, ana)
    ask = community_request(db, ben, [ana])
    with PostgresUnitOfWork() as uow:
        sources = uow.priority_sources
        (o,) = sources.intro_opportunities_for_connector(ana, now=NOW, dormant_after=2)
        (c,) = sources.connection_requests_for_introducee(ana, now=NOW, dormant_after=2)
        (f,) = sources.intro_offers_for_member(ana, now=NOW)
        (q,) = sources.community_requests_for_expert(ana, now=NOW, dormant_after=2, named_ids=[])
        assert sources.research_finished_for_member(ana, since=NOW - timedelta(days=14)) == []
    assert (o.id, o.bounty_credits, o.connection_strength, o.first_name) == (
        opportunity,
        80,
        "first_degree",
        "Pat",
    )
    assert c.id == request and len(c.vouched_by_user_ids) == 2
    assert (f.id, f.role, f.offering_name) == (offer, "introducee", "Ben Ruiz")
    assert q.id == ask and q.expertise_needed == ("finance",)


def test_source_statuses_members_and_pinned_responses(db):
    ana, ben = member(db), member(db, first="Ben")
    opportunity = intro_opportunity(db, ana, status="accepted")
    ask = community_request(db, ben, [ana])
    answer = community_response(db, ask, ana)
    gone = uuid.uuid4()
    with PostgresUnitOfWork() as uow:
        sources = uow.priority_sources
        assert sources.statuses({}) == {} and sources.statuses({"goal": [uuid.uuid4()]}) == {}
        found = sources.statuses({"intro_opportunity": [opportunity, gone], "community_response": [answer]})
        assert found[("intro_opportunity", opportunity)].status == "accepted"
        assert found[("community_response", answer)].status == "open"
        assert ("intro_opportunity", gone) not in found
        assert sources.members_of_intro_items([]) == []
        assert sources.members_of_intro_items([opportunity, gone]) == [ana]
        pinned = sources.community_response(answer)
        assert pinned is not None and pinned.request_id == ask and pinned.requesting_user_id == ben
        assert sources.community_response(gone) is None
        request = sources.community_request(ask)
        assert request is not None and request.requesting_agent_type == "concierge"
        assert sources.community_request(gone) is None


def test_sources_made_dormant_and_their_reengagement_checks_cancelled(db):
    ana = member(db)
    opportunity = intro_opportunity(db, ana, presentations=2, status="presented")
    other = uuid.uuid4()
    for context_id, items in ((opportunity, []), (None, [{"item_id": str(opportunity)}]), (other, [])):
        db.execute(
            "INSERT INTO agent_tasks (task_type, agent_type, user_id, scheduled_for, context_id,"
            " context_json, created_by, dedupe_key)"
            " VALUES ('re_engagement_check', 'concierge', %s, %s, %s, %s, 'test', %s)",
            (ana, NOW, context_id, json.dumps({"priority_items": items}), uuid.uuid4().hex),
        )
    with PostgresUnitOfWork() as uow:
        marked = uow.priority_sources.mark_intro_sources_dormant(
            intro_opportunity_ids=[opportunity], connection_request_ids=[], now=NOW
        )
        cancelled = uow.tasks.cancel_reengagement_for_items(ana, [opportunity], now=NOW)
        uow.commit()
    assert marked == 1 and len(cancelled) == 2  # by context id and by priority_items; not the other item's
    status = db.execute("SELECT status FROM intro_opportunities WHERE id = %s", (opportunity,)).fetchone()
    assert status["status"] == "dormant"


def test_member_events_and_inbound_texts(db):
    ana, conv = new_user(db, "+14155550199")
    ben, _ = new_user(db, "+14155550198")
    event(db, ana, "message.received", {"message_id": "x"}, at=NOW - timedelta(hours=2))
    event(db, ana, "user.verified", {}, at=NOW - timedelta(hours=1))
    event(db, ben, "user.verified", {}, at=NOW)
    db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_at, created_by)"
        " VALUES ('priority.update', 'user', %s, '[1, 2]', %s, 'account_manager')",
        (ana, NOW),
    )
    say(db, ana, conv, "I'm working on a CFO search")
    mine = db.execute("SELECT id FROM messages WHERE user_id = %s", (ana,)).fetchone()["id"]
    with PostgresUnitOfWork() as uow:
        everything = uow.events.for_member_since(ana, since=None, excluding_creator="nobody", limit=10)
        news = uow.events.for_member_since(
            ana, since=NOW - timedelta(hours=2), excluding_creator="account_manager", limit=10
        )
        texts = uow.messages.inbound_by_ids(ana, [mine, uuid.uuid4()])
        assert uow.messages.inbound_by_ids(ben, [mine]) == []  # not Ben's message
    assert [e.event_type for e in everything] == ["message.received", "user.verified", "priority.update"]
    assert everything[0].payload == {"message_id": "x"} and everything[2].payload == {}  # not an object
    assert [e.event_type for e in news] == ["user.verified"]  # after the watermark, not its own
    assert [(t.id, t.content) for t in texts] == [(mine, "I'm working on a CFO search")]
