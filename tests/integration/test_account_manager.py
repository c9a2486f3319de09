"""The Account Manager on a real database: top 10, dormancy, siblings, watermark, redelivery, the race."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.llm import LlmRequest, LlmResponse, LlmUnavailable
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.priorities import COMMUNITY_RESPONSE_SCORE, TOP_PRIORITIES
from shared.service_layer.account_manager import (
    RunInputs,
    handle_event,
    handle_task,
    request_review,
    run_for_member,
    schedule_reviews,
)
from shared.service_layer.consumer import Delivery, PermanentError
from tests.account_manager_support import (
    NOW,
    community_request,
    community_response,
    connection_request,
    event,
    intro_offer,
    intro_opportunity,
    live,
    member,
    priorities,
    prospect,
    run,
    snapshot,
)
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm, ScriptedReply

pytestmark = pytest.mark.integration


def scores_reply(*scores: int) -> ScriptedReply:
    return ScriptedReply(
        tool_uses=[
            ("score_items", {"scores": [{"key": f"i{n}", "score": s} for n, s in enumerate(scores, 1)]})
        ]
    )


def task_delivery(user: Any, task_type: str, *, context_id: Any = None, context: Any = None) -> Delivery:
    task_id = uuid.uuid4()
    return Delivery(
        kind="task",
        id=task_id,
        type=task_type,
        attempt=1,
        published_at=NOW,
        data={
            "task_id": str(task_id),
            "task_type": task_type,
            "user_id": str(user),
            "context_id": str(context_id) if context_id else None,
            "context_json": context or {},
        },
        attributes={"kind": "task", "claim_token": str(uuid.uuid4())},
        user_id=user,
    )


def event_delivery(event_type: str, payload: Any, user: Any = None) -> Delivery:
    return Delivery(
        kind="event",
        id=uuid.uuid4(),
        type=event_type,
        attempt=1,
        published_at=NOW,
        data={"event_type": event_type, "payload": payload, "aggregate_type": "user", "aggregate_id": None},
        attributes={"kind": "event"},
        user_id=user,
    )


def handle(handler: Any, delivery: Delivery, llm: Any = None) -> Any:
    with PostgresUnitOfWork() as uow:
        result = handler(delivery, uow, make_deps(llm=llm, clock=lambda: NOW))
        uow.commit()
    return result


def test_top_ten_ranked_from_the_intro_table_and_one_batched_llm_call(db):
    ana, sam = member(db, expertise=("finance",)), member(db, first="Sam")
    for bounty in (0, 10, 20, 40, 60, 80):
        intro_opportunity(db, ana, bounty=bounty)
    for vouches in (0, 1, 2):
        connection_request(db, ana, sam, vouches=vouches)
    asks = [community_request(db, sam, [ana], question=f"Question {n} about treasury?") for n in range(4)]
    llm = ScriptedLlm(scores_reply(99, 10, 72, 30))

    result = run(ana, llm=llm)

    rows = live(db, ana)
    assert result.status == "ranked" and len(rows) == TOP_PRIORITIES == result.written
    assert [r["priority_rank"] for r in rows] == list(range(1, 11))
    scores = [float(r["value_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    # 13 candidates, one LLM call for the 4 community asks; the request carries the cached prefix.
    assert len(llm.requests) == 1 and result.llm_calls == 1
    request = llm.requests[0]
    assert request.system and request.force_tool == "score_items" and request.stable_context == ""
    assert all(str(a) not in request.messages[0]["content"] for a in asks)  # items are keyed, not by id
    by_item = {r["item_id"]: r for r in rows}
    assert float(by_item[asks[0]]["value_score"]) == 99 and by_item[asks[0]]["score_source"] == "llm"
    assert asks[1] not in by_item  # 10 is below the tenth item
    top = rows[0]
    assert top["item_type"] == "connection_request" and float(top["value_score"]) == 100  # 60 + 2x20 (capped)
    opp = next(r for r in rows if r["item_type"] == "intro_opportunity")
    assert opp["item_summary"] == "Intro Pat Lee at Globex" and opp["item_context"].startswith("earn ")


def test_unchanged_items_keep_their_llm_score_and_cost_no_call(db):
    ana, sam = member(db), member(db, first="Sam")
    community_request(db, sam, [ana])
    run(ana, llm=ScriptedLlm(scores_reply(64)))
    llm = ScriptedLlm()  # no answer queued: a call would fail the test
    result = run(ana, llm=llm, now=NOW + timedelta(hours=6))
    assert llm.requests == [] and result.llm_calls == 0
    assert float(live(db, ana)[0]["value_score"]) == 64


def test_without_an_llm_the_offline_brain_scores_and_says_so(db, caplog):
    ana, sam = member(db, expertise=("finance",)), member(db, first="Sam")
    matched = community_request(db, sam, [ana], expertise=("finance",))
    other = community_request(
        db, sam, [ana], expertise=("biotech",), category="biotech", question="Which CRO for phase 1?"
    )
    with caplog.at_level(logging.WARNING):
        result = run(ana, llm=None)
    rows = {r["item_id"]: r for r in live(db, ana)}
    assert result.fallback_items == 2
    assert rows[matched]["score_source"] == "fallback" and "expertise 10" in rows[matched]["score_reason"]
    assert float(rows[matched]["value_score"]) > float(rows[other]["value_score"])
    assert "offline brain" in caplog.text


def test_an_unavailable_llm_falls_back_for_the_batch(db):
    ana, sam = member(db), member(db, first="Sam")
    community_request(db, sam, [ana])
    result = run(ana, llm=ScriptedLlm(LlmUnavailable("overloaded", reason="overloaded")))
    assert result.llm_calls == 1 and result.fallback_items == 1
    assert live(db, ana)[0]["score_source"] == "fallback"


def test_presented_twice_becomes_dormant_and_its_reengagement_is_cancelled(db):
    ana, sam = member(db), member(db, first="Sam")
    request = connection_request(db, ana, sam, vouches=1)
    run(ana)
    [row] = live(db, ana)
    # The Concierge presented it twice (presentation tracking, agents.md §13) and left a check.
    db.execute(
        "UPDATE connection_requests SET status = 'presented', presentation_count = 2 WHERE id = %s",
        (request,),
    )
    db.execute(
        "UPDATE user_priorities SET status = 'presented', presentation_count = 2 WHERE id = %s", (row["id"],)
    )
    task = db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, user_id, context_id, context_type, scheduled_for)"
        " VALUES ('re_engagement_check', 'concierge', %s, %s, 'connection_request', now() + interval"
        " '7 days')"
        " RETURNING id",
        (ana, request),
    ).fetchone()["id"]
    other = db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, user_id, scheduled_for, context_json)"
        " VALUES ('re_engagement_check', 'concierge', %s, now() + interval '7 days', %s) RETURNING id",
        (ana, json.dumps({"priority_items": [{"item_id": str(request), "item_type": "connection_request"}]})),
    ).fetchone()["id"]

    result = run(ana, now=NOW + timedelta(days=8))

    [after] = priorities(db, ana)
    assert after["status"] == "dormant" and result.dormant == 1 and result.tasks_cancelled == 2
    source = db.execute(
        "SELECT status, dormant_at FROM connection_requests WHERE id = %s", (request,)
    ).fetchone()
    assert source["status"] == "dormant" and source["dormant_at"] is not None
    tasks = db.execute(
        "SELECT status, result_json FROM agent_tasks WHERE id = ANY(%s)", ([task, other],)
    ).fetchall()
    assert all(
        t["status"] == "cancelled" and t["result_json"]["reason"] == "item_marked_dormant" for t in tasks
    )
    # Dormant items are never scored or loaded again.
    run(ana, now=NOW + timedelta(days=9))
    assert live(db, ana) == []


def test_a_dormant_offer_is_never_scored_again(db):
    ana, sam = member(db), member(db, first="Sam")
    intro_offer(db, sam, ana)
    run(ana)
    db.execute(
        "UPDATE user_priorities SET status = 'presented', presentation_count = 2 WHERE user_id = %s", (ana,)
    )
    run(ana)
    assert [r["status"] for r in priorities(db, ana)] == ["dormant"]
    run(ana)
    assert [r["status"] for r in priorities(db, ana)] == ["dormant"]


def test_accepting_pauses_and_completing_cancels_the_other_connectors_opportunities(db):
    innovator = member(db, first="Ivy")
    ana, ben, cy = member(db), member(db, first="Ben"), member(db, first="Cy")
    pat = prospect(db, innovator)
    mine = intro_opportunity(db, ana, prospect_id=pat, innovator=innovator)
    bens = intro_opportunity(db, ben, prospect_id=pat, innovator=innovator)
    cys = intro_opportunity(db, cy, prospect_id=pat, innovator=innovator, status="presented", presentations=1)
    elsewhere = intro_opportunity(db, ben, prospect_id=prospect(db, innovator), innovator=innovator)
    run(ben)
    run(cy)
    assert {r["item_id"] for r in live(db, ben)} == {bens, elsewhere}

    db.execute("UPDATE intro_opportunities SET status = 'accepted' WHERE id = %s", (mine,))
    handle(
        handle_event,
        event_delivery("intro.opportunity_accepted", {"introId": str(mine), "connectorUserId": str(ana)}),
    )

    statuses = {
        r["id"]: r["status"] for r in db.execute("SELECT id, status FROM intro_opportunities").fetchall()
    }
    assert (statuses[bens], statuses[cys], statuses[elsewhere]) == ("paused", "paused", "open")
    assert {r["item_id"] for r in live(db, ben)} == {elsewhere} and live(db, cy) == []
    reviews = db.execute(
        "SELECT user_id FROM agent_tasks WHERE task_type = 'account_manager_review' AND status = 'pending'"
    ).fetchall()
    assert {r["user_id"] for r in reviews} == {ben, cy}
    # The accepted one is the connector's: it is actioned in their list.
    assert [r["status"] for r in priorities(db, ana) if r["item_id"] == mine] in ([], ["actioned"])

    db.execute("UPDATE intro_opportunities SET status = 'completed' WHERE id = %s", (mine,))
    run(ana, trigger="intro.opportunity_completed")
    statuses = {
        r["id"]: r["status"] for r in db.execute("SELECT id, status FROM intro_opportunities").fetchall()
    }
    assert (statuses[bens], statuses[cys], statuses[elsewhere]) == ("cancelled", "cancelled", "open")


def test_source_transitions_actioned_expired_removed_and_vanished_rows(db):
    ana, sam = member(db), member(db, first="Sam")
    accepted = connection_request(db, ana, sam)
    declined = connection_request(db, ana, sam)
    cancelled = intro_opportunity(db, ana)
    deleted = community_request(db, sam, [ana])
    offer = intro_offer(db, sam, ana)
    run(ana, llm=ScriptedLlm(scores_reply(50)))
    assert len(live(db, ana)) == 5

    db.execute("UPDATE connection_requests SET status = 'accepted' WHERE id = %s", (accepted,))
    db.execute("UPDATE connection_requests SET status = 'declined' WHERE id = %s", (declined,))
    db.execute("UPDATE intro_opportunities SET status = 'cancelled' WHERE id = %s", (cancelled,))
    db.execute("DELETE FROM community_requests WHERE id = %s", (deleted,))
    db.execute("UPDATE intro_offers SET status = 'pending_connector_confirmation' WHERE id = %s", (offer,))
    run(ana)

    by_item = {r["item_id"]: r["status"] for r in priorities(db, ana)}
    assert by_item == {accepted: "actioned", declined: "expired", offer: "actioned"}
    # The offer moved to the connector as a confirmation priority (70, +15 under a day: not here).
    run(sam)
    [confirm] = live(db, sam)
    assert (confirm["item_id"], float(confirm["value_score"])) == (offer, 70)
    assert confirm["item_summary"].startswith("Confirm your intro of Jim Berg")


def test_watermark_reads_only_new_events_and_the_review_picks_only_members_with_news(db):
    ana, ben, cy = member(db), member(db, first="Ben"), member(db, first="Cy")
    member(db, first="Unverified", verified=False)
    event(db, ana, "message.received", {"user_id": str(ana)}, at=NOW - timedelta(hours=2))
    event(db, ben, "message.received", {"user_id": str(ben)}, at=NOW - timedelta(hours=1))
    for user in (ana, ben, cy):
        first = run(user)
    assert first.events_read == 0  # cy had none
    mark = db.execute(
        "SELECT events_read_until FROM account_manager_members WHERE user_id = %s", (ana,)
    ).fetchone()
    assert mark["events_read_until"] == NOW - timedelta(hours=2)
    assert run(ana).events_read == 0  # the Account Manager's own events are not news

    event(db, ben, "intro.opportunity_created", {"connectorUserId": str(ben)}, at=NOW + timedelta(minutes=5))
    sam = member(db, first="Sam")
    request = community_request(db, sam, [cy])
    run(cy, llm=ScriptedLlm(scores_reply(40)))
    db.execute(
        "UPDATE user_priorities SET expires_at = %s WHERE item_id = %s", (NOW - timedelta(minutes=1), request)
    )
    with PostgresUnitOfWork() as uow:
        due = schedule_reviews(uow, NOW)
        again = schedule_reviews(uow, NOW)
        uow.commit()
    assert set(due) == {ben, cy} and again == []  # one pending review per member
    assert run(ben).events_read == 1


def test_redelivered_task_three_times_leaves_priorities_as_one_delivery(db):
    ana, sam = member(db), member(db, first="Sam")
    request = community_request(db, sam, [], question="Anyone run a 13-week cash forecast?")
    intro_opportunity(db, ana, bounty=30)
    llm = ScriptedLlm(scores_reply(77))
    handle(handle_task, task_delivery(ana, "community_request_available", context_id=request), llm)
    once = snapshot(db, ana)
    for _ in range(3):
        handle(
            handle_task, task_delivery(ana, "community_request_available", context_id=request), ScriptedLlm()
        )
    assert snapshot(db, ana) == once
    assert [r["item_type"] for r in once] == ["community_request", "intro_opportunity"]


def test_community_response_available_is_rank_one_value_ninety(db):
    ana, expert = member(db), member(db, first="Eve")
    intro_opportunity(db, ana, bounty=100, strength="first_degree", age=timedelta(hours=1))  # scores 100
    request = community_request(db, ana, [expert])
    response = community_response(db, request, expert)
    handle(
        handle_task, task_delivery(ana, "community_response_available", context={"responseId": str(response)})
    )
    rows = live(db, ana)
    assert (rows[0]["item_type"], rows[0]["priority_rank"], float(rows[0]["value_score"])) == (
        "community_response",
        1,
        COMMUNITY_RESPONSE_SCORE,
    )
    assert float(rows[1]["value_score"]) == 100


def test_an_answer_and_an_impact_note_announce_themselves_once(db):
    """The task writes its item before the run reads the list; the run must still publish
    priority.update for it (it is news), and a re-created task must not announce it again."""
    ana, expert = member(db), member(db, first="Eve")
    request = community_request(db, ana, [expert])
    response = community_response(db, request, expert)
    answer = task_delivery(ana, "community_response_available", context={"responseId": str(response)})
    handle(handle_task, answer)
    handle(handle_task, replace(answer, id=uuid.uuid4()))
    impact = task_delivery(expert, "notify_expert_of_impact", context={"responseId": str(response)})
    handle(handle_task, impact)
    updates = db.execute(
        "SELECT payload FROM events WHERE event_type = 'priority.update' ORDER BY created_at"
    ).fetchall()
    assert [u["payload"]["userId"] for u in updates] == [str(ana), str(expert)]
    [note] = [r for r in live(db, expert) if r["item_type"] == "expert_impact"]
    assert float(note["value_score"]) > 90


def test_response_received_actions_the_experts_ask_and_tells_the_requester(db):
    ana, expert = member(db), member(db, first="Eve")
    request = community_request(db, ana, [expert])
    run(expert, llm=ScriptedLlm(scores_reply(66)))
    response = community_response(db, request, expert)
    handle(
        handle_event,
        event_delivery(
            "community.response_received",
            {"responseId": str(response), "requestId": str(request), "expertUserId": str(expert)},
        ),
    )
    assert [r["status"] for r in priorities(db, expert)] == ["actioned"]
    [answer] = live(db, ana)
    assert answer["item_type"] == "community_response" and answer["priority_rank"] == 1


def test_a_missing_response_or_member_never_crashes(db):
    ana = member(db)
    handle(
        handle_task,
        task_delivery(ana, "community_response_available", context={"responseId": str(uuid.uuid4())}),
    )
    handle(handle_task, task_delivery(uuid.uuid4(), "account_manager_review"))
    assert live(db, ana) == []


def test_urgent_items_publish_priority_update_once_and_every_run_reports_completion(db):
    ana, sam = member(db), member(db, first="Sam")
    connection_request(db, ana, sam, vouches=2)  # 100
    run(ana)
    run(ana)
    events = db.execute("SELECT event_type, payload, created_by FROM events ORDER BY created_at").fetchall()
    updates = [e for e in events if e["event_type"] == "priority.update"]
    done = [e for e in events if e["event_type"] == "account_manager.processing.completed"]
    assert len(updates) == 1 and len(done) == 2
    payload = updates[0]["payload"]
    assert payload["maxScore"] == 100 and payload["itemCount"] == 1 and payload["userId"] == str(ana)
    assert done[0]["payload"]["urgentItems"] == 1 and done[0]["created_by"] == "account_manager"


def test_goal_mentions_in_new_inbound_messages_become_goal_items(db):
    ana = member(db)
    conv = db.execute(
        "SELECT id FROM conversations WHERE user_id = %s AND status = 'active'", (ana,)
    ).fetchone()["id"]
    said = db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) VALUES"
        " (%s, %s, 'user', 'We are trying to raise a Series B by March', 'inbound', 'received') RETURNING id",
        (conv, ana),
    ).fetchone()["id"]
    event(db, ana, "message.received", {"user_id": str(ana), "message_id": str(said)})
    run(ana, llm=ScriptedLlm(scores_reply(85)))
    [goal] = live(db, ana)
    assert (goal["item_type"], goal["item_id"], float(goal["value_score"])) == ("goal", said, 85)


def test_user_verified_runs_the_first_review(db):
    ana, sam = member(db), member(db, first="Sam")
    connection_request(db, ana, sam)
    result = handle(handle_event, event_delivery("user.verified", {"userId": str(ana)}))
    assert result["runs"][0]["status"] == "ranked" and len(live(db, ana)) == 1


class BlockingLlm:
    """Holds the first run inside its claim until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.inner = ScriptedLlm(scores_reply(55))

    def complete(self, request: LlmRequest) -> LlmResponse:
        self.entered.set()
        assert self.release.wait(10)
        return self.inner.complete(request)


def test_two_racing_runs_of_one_member_one_wins_one_no_ops(db):
    ana, sam = member(db), member(db, first="Sam")
    community_request(db, sam, [ana])
    llm = BlockingLlm()
    results: dict[str, Any] = {}

    def first() -> None:
        with PostgresUnitOfWork() as uow:
            results["first"] = run_for_member(uow, ana, RunInputs("scheduled"), llm=llm, now=NOW)
            uow.commit()

    thread = threading.Thread(target=first)
    thread.start()
    assert llm.entered.wait(10)
    second = run(ana, trigger="community_request_available")
    llm.release.set()
    thread.join(10)

    assert (results["first"].status, second.status) == ("ranked", "busy")
    assert len(live(db, ana)) == 1
    retry = db.execute(
        "SELECT context_json FROM agent_tasks WHERE task_type = 'account_manager_review' AND user_id = %s",
        (ana,),
    ).fetchone()
    assert retry["context_json"]["trigger"] == "busy_retry"
    runs = db.execute("SELECT runs FROM account_manager_members WHERE user_id = %s", (ana,)).fetchone()[
        "runs"
    ]
    assert runs == 1


def test_an_accepted_offer_moves_to_the_offering_member_from_the_event_alone(db):
    ana, sam = member(db), member(db, first="Sam")
    offer = intro_offer(db, sam, ana, age=timedelta(hours=2))
    handle(
        handle_event,
        event_delivery("intro.offer_created", {"introduceeUserId": str(ana), "offerId": str(offer)}),
    )
    assert [r["item_id"] for r in live(db, ana)] == [offer]
    db.execute("UPDATE intro_offers SET status = 'pending_connector_confirmation' WHERE id = %s", (offer,))
    handle(
        handle_event,
        event_delivery("intro.offer_accepted", {"introduceeUserId": str(ana), "introOfferId": str(offer)}),
    )
    assert [r["status"] for r in priorities(db, ana)] == ["actioned"]
    [confirm] = live(db, sam)
    assert confirm["item_id"] == offer and confirm["item_metadata"]["role"] == "connector"


def test_an_explicit_mention_review_turns_the_message_into_a_goal(db):
    ana = member(db)
    conv = db.execute(
        "SELECT id FROM conversations WHERE user_id = %s AND status = 'active'", (ana,)
    ).fetchone()["id"]
    said = db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) VALUES"
        " (%s, %s, 'user', 'Biggest challenge right now is churn in the mid-market', 'inbound', 'received')"
        " RETURNING id",
        (conv, ana),
    ).fetchone()["id"]
    with PostgresUnitOfWork() as uow:
        assert request_review(uow, ana, trigger="explicit_mention", now=NOW, message_id=said)
        assert not request_review(uow, ana, trigger="explicit_mention", now=NOW, message_id=said)
        uow.commit()
    task = db.execute("SELECT * FROM agent_tasks WHERE user_id = %s", (ana,)).fetchone()
    delivery = task_delivery(ana, "account_manager_review", context=task["context_json"])
    handle(handle_task, delivery, ScriptedLlm(scores_reply(82)))
    [item] = live(db, ana)
    assert (item["item_type"], item["item_id"], float(item["value_score"])) == ("challenge", said, 82)


def test_an_item_the_llm_calls_stale_is_expired_and_not_scored_again_while_unchanged(db):
    ana, sam = member(db), member(db, first="Sam")
    request = community_request(db, sam, [ana])
    stale = ScriptedReply(tool_uses=[("score_items", {"scores": [{"key": "i1", "score": 5, "stale": True}]})])
    run(ana, llm=ScriptedLlm(stale))
    assert [(r["item_id"], r["status"]) for r in priorities(db, ana)] == [(request, "expired")]
    llm = ScriptedLlm()
    run(ana, llm=llm)
    assert llm.requests == [] and live(db, ana) == []


def test_hostile_payloads_are_refused_or_ignored_and_nothing_is_written_twice(db):
    ana = member(db)
    opportunity = intro_opportunity(db, ana)
    # Not an object: refused for good (the consumer dead-letters it), nothing written.
    with pytest.raises(PermanentError), PostgresUnitOfWork() as uow:
        handle_event(
            event_delivery("intro.approved", ["not", "an", "object"]), uow, make_deps(clock=lambda: NOW)
        )
    assert priorities(db, ana) == []
    # Ids that are not UUIDs, a member event whose payload is not an object: ignored, the run goes on.
    event(db, ana, "message.received", {"message_id": "'; DROP TABLE users; --"})
    db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_at, created_by)"
        " VALUES ('message.received', 'user', %s, '\"a string\"', %s, 'test')",
        (ana, NOW),
    )
    payload = {"userId": str(ana), "introId": "not-a-uuid", "offerId": 42, "connectorUserId": "x"}
    first = handle(handle_event, event_delivery("intro.approved", payload))
    again = handle(handle_event, event_delivery("intro.approved", payload))
    assert [r["status"] for r in first["runs"]] == ["ranked"] and again["runs"][0]["events_read"] == 0
    assert [r["item_id"] for r in priorities(db, ana)] == [opportunity]  # one row, however often
    # A task naming no member at all is refused.
    with pytest.raises(PermanentError), PostgresUnitOfWork() as uow:
        orphan = replace(task_delivery(ana, "account_manager_review"), user_id=None)
        orphan.data["user_id"] = "nobody"
        handle_task(orphan, uow, make_deps(clock=lambda: NOW))
