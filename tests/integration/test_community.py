"""Agent of Humans on real Postgres: routing, de-duplication, the load cap, the answer lifecycle,
closure and cancellation; every redelivered message creates nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from cloudevents.http import CloudEvent

from shared.adapters.llm import Llm, LlmUnavailable
from shared.adapters.repositories.events import ClaimedEvent
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge import fallback as brain
from shared.domain.community import expertise_terms, normalize_expertise
from shared.domain.member_intents import read_intents
from shared.routing import CONSUMERS
from shared.service_layer import community
from shared.service_layer.consumer import Outcome
from shared.service_layer.delivery import deliver
from shared.service_layer.dispatch_events import event_message
from tests.backbone_support import push_body, unique_phone
from tests.deps_support import make_deps
from tests.fakes.llm import ScriptedLlm

pytestmark = pytest.mark.integration

# 16:00 UTC: noon in New York, 09:00 in Los Angeles - nobody seeded here is in quiet hours.
NOW = datetime(2026, 6, 3, 16, 0, tzinfo=UTC)


def person(
    db: Any, first: str, last: str = "Doe", *, expertise: list[str] | None = None, verified: bool = True
) -> UUID:
    row = db.execute(
        "INSERT INTO users (phone_number, first_name, last_name, verified, poc_agent_type, expertise,"
        " timezone) VALUES (%s, %s, %s, %s, 'concierge', %s, 'America/New_York') RETURNING id",
        (unique_phone(), first, last, verified, expertise or []),
    ).fetchone()
    return UUID(str(row["id"]))


def needed(
    asker: UUID, *, question: str = "How did you pick a payroll provider?", **kw: Any
) -> dict[str, Any]:
    payload = {
        "requesting_agent_type": "concierge",
        "requesting_user_id": str(asker),
        "context_id": None,
        "context_type": "conversation",
        "question": question,
        "category": "hr",
        "expertise_needed": ["payroll", "HR Operations"],
        "urgency": "medium",
        "request_summary": "payroll provider",
    }
    payload.update(kw)
    return payload


def cloud_event(event_type: str, payload: dict[str, Any], *, event_id: UUID | None = None) -> CloudEvent:
    event = ClaimedEvent(
        id=event_id or uuid4(),
        event_type=event_type,
        aggregate_type="user",
        aggregate_id=None,
        payload=payload,
        metadata={},
        attempts=0,
        created_at=NOW,
        created_by="test",
        user_id=None,
        user_verified=None,
        user_poc_agent_type=None,
    )
    message = event_message(event, CONSUMERS["agent_of_humans"])
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub.googleapis.com/test"},
        push_body(message, subscription="projects/p/subscriptions/agent-of-humans-push"),
    )


def deliver_event(event: CloudEvent, *, llm: Llm | None = None, now: datetime = NOW) -> Outcome:
    return deliver("agent_of_humans", event, make_deps(llm=llm, clock=lambda: now))


def tasks(db: Any, task_type: str) -> list[dict[str, Any]]:
    return list(
        db.execute("SELECT * FROM agent_tasks WHERE task_type = %s ORDER BY created_at", (task_type,))
    )


def events(db: Any, event_type: str) -> list[dict[str, Any]]:
    return list(db.execute("SELECT * FROM events WHERE event_type = %s ORDER BY created_at", (event_type,)))


def requests(db: Any) -> list[dict[str, Any]]:
    return list(db.execute("SELECT * FROM community_requests ORDER BY created_at"))


@pytest.fixture
def experts(db: Any) -> list[UUID]:
    return [
        person(db, "Ana", expertise=["payroll"]),
        person(db, "Ben", expertise=["hr operations", "payroll"]),
        person(db, "Cy", expertise=["HR Operations"]),
    ]


def test_experts_match_by_the_words_of_their_expertise_and_weak_matches_give_way(db: Any) -> None:
    """Found on the local stack: a question tagged by its words ("accounts", "payable",
    "automation", as the Solution Saga and the offline Concierge tag it) reached no expert, though
    a member's expertise was "accounts payable automation": tags matched only whole. Now a tag is
    covered by the same tag or one of its words; an expert covering fewer than half as many tags
    as the best ("engineering" alone) is not asked."""
    asker = person(db, "Asha")
    sam = person(db, "Sam", expertise=["fintech", "Accounts Payable Automation"])
    person(db, "Dev", expertise=["data engineering", "cloud infrastructure"])
    person(db, "Ravi", expertise=["compliance automation"])  # one word of the phrase is not the phrase
    tags = ["accounts payable automation", "engineering", "accounts", "payable", "automation", "200-person"]
    event = cloud_event(
        community.REQUEST_NEEDED, needed(asker, category="engineering", expertise_needed=tags)
    )
    assert deliver_event(event) == Outcome.HANDLED
    [request] = requests(db)
    assert request["target_user_ids"] == [sam]


def test_an_expert_covering_one_of_two_tags_is_still_asked(db: Any) -> None:
    asker = person(db, "Asha")
    ana = person(db, "Ana", expertise=["SOC 2 compliance"])
    ben = person(db, "Ben", expertise=["security compliance"])
    person(db, "Cy", expertise=["brand strategy"])
    event = cloud_event(
        community.REQUEST_NEEDED, needed(asker, category="security", expertise_needed=["SOC 2", "security"])
    )
    assert deliver_event(event) == Outcome.HANDLED
    [request] = requests(db)
    assert set(request["target_user_ids"]) == {ana, ben}


def test_routes_to_matching_experts_in_one_commit_and_redelivery_creates_nothing(
    db: Any, experts: list[UUID]
) -> None:
    asker = person(db, "Asha", expertise=["payroll"])
    person(db, "Unverified", expertise=["payroll"], verified=False)
    person(db, "Other", expertise=["marketing"])
    event = cloud_event(community.REQUEST_NEEDED, needed(asker))

    outcomes = [deliver_event(event) for _ in range(3)]

    assert outcomes == [Outcome.HANDLED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    [request] = requests(db)
    assert request["status"] == "open"
    assert set(request["target_user_ids"]) == set(experts)
    assert asker not in request["target_user_ids"]
    assert request["expires_at"] == request["created_at"] + timedelta(days=7)
    assert request["expertise_needed"] == ["payroll", "hr operations"]
    routed = tasks(db, community.REQUEST_AVAILABLE)
    assert {t["user_id"] for t in routed} == set(experts)
    assert all(t["agent_type"] == "account_manager" and t["priority"] == "medium" for t in routed)
    assert all(t["context_id"] == request["id"] for t in routed)
    [event_row] = events(db, community.REQUEST_ROUTED)
    assert event_row["payload"]["experts_notified"] == 3
    assert set(event_row["payload"]["expert_user_ids"]) == {str(e) for e in experts}
    requesters = list(db.execute("SELECT user_id FROM community_request_requesters"))
    assert [r["user_id"] for r in requesters] == [asker]


def test_a_duplicate_within_seven_days_is_absorbed_and_both_askers_recorded(
    db: Any, experts: list[UUID]
) -> None:
    first, second = person(db, "Asha"), person(db, "Bo")
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(first)))
    later = NOW + timedelta(days=6)
    duplicate = cloud_event(community.REQUEST_NEEDED, needed(second, expertise_needed=["Payroll"]))
    for _ in range(3):
        deliver_event(duplicate, now=later)

    [request] = requests(db)
    askers = {r["user_id"] for r in db.execute("SELECT user_id FROM community_request_requesters")}
    assert askers == {first, second}
    assert len(tasks(db, community.REQUEST_AVAILABLE)) == 3  # nobody asked twice
    [attached] = events(db, community.REQUEST_ATTACHED)
    assert attached["payload"]["existing_request_id"] == str(request["id"])


def test_an_expert_who_asks_the_question_put_to_them_is_no_longer_asked_it(
    db: Any, experts: list[UUID]
) -> None:
    """Found on the local stack: Sam (expertise "fintech") joined Maya's "can you introduce me to a
    CFO at a fintech?" by asking it too, and was then sent "A member asked something you may know
    about: can you introduce me to a CFO at a fintech? Reply with your answer, or 'pass'." Joining
    settles their ask as a pass (no penalty), expires the priority presenting it, and the Account
    Manager's source query no longer offers it; an asker who was never asked gets no ask row."""
    asha, ana = person(db, "Asha"), experts[0]
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asha)))
    [request] = requests(db)
    assert ana in request["target_user_ids"]
    db.execute(
        "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id)"
        " VALUES (%s, 1, 'community_request', %s)",
        (ana, request["id"]),
    )
    bo = person(db, "Bo")
    for asker in (ana, bo):
        joined = needed(asker, question="Which payroll provider do you use?", expertise_needed=["Payroll"])
        for _ in range(2):  # redelivered: settled once
            deliver_event(cloud_event(community.REQUEST_NEEDED, joined), now=NOW + timedelta(hours=1))

    asks = {
        r["expert_user_id"]: (r["status"], r["responded_at"])
        for r in db.execute("SELECT * FROM community_request_experts WHERE request_id = %s", (request["id"],))
    }
    assert asks[ana] == ("passed", NOW + timedelta(hours=1))
    assert {asks[e][0] for e in experts[1:]} == {"asked"}
    assert bo not in asks
    [priority] = db.execute("SELECT status FROM user_priorities WHERE user_id = %s", (ana,))
    assert priority["status"] == "expired"
    with PostgresUnitOfWork() as uow:
        offered = uow.priority_sources.community_requests_for_expert(
            ana, now=NOW + timedelta(hours=1), dormant_after=3, named_ids=[]
        )
        assert [r.id for r in offered] == []
        still = uow.priority_sources.community_requests_for_expert(
            experts[1], now=NOW + timedelta(hours=1), dormant_after=3, named_ids=[]
        )
        assert [r.id for r in still] == [request["id"]]


def test_every_asker_has_the_request_among_their_own_open_ones_until_they_withdraw(
    db: Any, experts: list[UUID]
) -> None:
    """What the Concierge's context and re-engagement read as the member's own open requests: the
    one they joined as a duplicate too, in their own words, and not once they have withdrawn."""
    first, second = person(db, "Asha"), person(db, "Bo")
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(first)))
    joined = needed(second, question="Which payroll provider do you like?", expertise_needed=["Payroll"])
    deliver_event(cloud_event(community.REQUEST_NEEDED, joined), now=NOW + timedelta(days=1))
    [request] = requests(db)

    def own(user: UUID) -> list[tuple[UUID, str]]:
        with PostgresUnitOfWork() as uow:
            return [(r.id, r.described) for r in uow.community_requests.open_for_user(user, limit=5)]

    assert own(first) == [(request["id"], "payroll provider")]
    assert own(second) == [(request["id"], "Which payroll provider do you like?")]
    with PostgresUnitOfWork() as uow:
        assert community.cancel_request(uow, request_id=request["id"], user_id=first, now=NOW) == "withdrawn"
        uow.commit()
    assert own(first) == []
    assert own(second) == [(request["id"], "Which payroll provider do you like?")]


def test_after_seven_days_or_another_category_a_new_request_is_made(db: Any, experts: list[UUID]) -> None:
    asker = person(db, "Asha")
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asker)))
    deliver_event(
        cloud_event(community.REQUEST_NEEDED, needed(asker, category="finance")), now=NOW + timedelta(days=2)
    )
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asker)), now=NOW + timedelta(days=8))
    assert len(requests(db)) == 3


def test_load_cap_one_ask_per_expert_per_local_day(db: Any, experts: list[UUID]) -> None:
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(person(db, "A1"))))
    deliver_event(
        cloud_event(community.REQUEST_NEEDED, needed(person(db, "A2"), category="benefits")),
        now=NOW + timedelta(hours=1),
    )
    second = requests(db)[1]
    assert second["target_user_ids"] == []  # all three were asked today
    [none] = events(db, community.NO_EXPERTS_FOUND)
    assert none["payload"]["category"] == "benefits"
    deliver_event(
        cloud_event(community.REQUEST_NEEDED, needed(person(db, "A3"), category="ops")),
        now=NOW + timedelta(days=1),
    )
    assert set(requests(db)[2]["target_user_ids"]) == set(experts)


def test_a_question_whose_tags_match_nobody_goes_to_members_of_its_area(db: Any) -> None:
    """Found on the local stack: "any advice on negotiating a term sheet with a lead investor?"
    (tagged as the offline Concierge tags it: the topic) reached nobody, though two members list
    fundraising. When the tags match nobody, the areas its words name do (``area_hints``); the
    tags stored stay the question's own, and a question whose tags match someone is not widened."""
    asker = person(db, "Asha")
    maya = person(db, "Maya", expertise=["venture capital", "fundraising", "board governance"])
    priya = person(db, "Priya", expertise=["fundraising", "hiring engineers"])
    person(db, "Leo", expertise=["freight operations"])
    question = "any advice on negotiating a term sheet with a lead investor?"
    topic = ["negotiating a term sheet with a lead investor"]
    event = cloud_event(
        community.REQUEST_NEEDED, needed(asker, question=question, category=None, expertise_needed=topic)
    )
    assert deliver_event(event) == Outcome.HANDLED
    [request] = requests(db)
    assert request["target_user_ids"] == [maya, priya]  # Maya covers both areas, Priya one; not Leo
    assert request["expertise_needed"] == topic
    assert not events(db, community.NO_EXPERTS_FOUND)


def test_a_question_whose_tags_match_someone_is_not_widened_to_its_area(db: Any) -> None:
    asker = person(db, "Asha")
    grace = person(db, "Grace", expertise=["soc 2 compliance"])
    person(db, "Ravi", expertise=["security"])  # "security" is an area of the question's words
    question = "who did your SOC 2 audit, and was the security review painful?"
    event = cloud_event(
        community.REQUEST_NEEDED, needed(asker, question=question, category=None, expertise_needed=["soc 2"])
    )
    assert deliver_event(event) == Outcome.HANDLED
    [request] = requests(db)
    assert request["target_user_ids"] == [grace]


def test_no_experts_still_creates_the_request(db: Any) -> None:
    deliver_event(
        cloud_event(community.REQUEST_NEEDED, needed(person(db, "Asha"), expertise_needed=["falconry"]))
    )
    [request] = requests(db)
    assert request["target_user_ids"] == []
    assert events(db, community.NO_EXPERTS_FOUND)
    assert not tasks(db, community.REQUEST_AVAILABLE)


def test_a_payload_without_a_question_is_dead_lettered(db: Any) -> None:
    assert deliver_event(cloud_event(community.REQUEST_NEEDED, {"requesting_user_id": str(uuid4())})) == (
        Outcome.DEAD_LETTERED
    )
    assert not requests(db)


# --- the answer lifecycle ------------------------------------------------------------------------


def routed_request(db: Any, asker: UUID | None = None, **kw: Any) -> tuple[UUID, UUID]:
    asker = asker or person(db, "Asha")
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(asker, **kw)))
    return UUID(str(requests(db)[-1]["id"])), asker


def reply(request_id: UUID, expert: UUID, text: str, *, now: datetime = NOW) -> community.ReplyResult:
    with PostgresUnitOfWork() as uow:
        result = community.handle_expert_reply(
            uow, request_id=request_id, expert_user_id=expert, text=text, summary=None, now=now
        )
        uow.commit()
    return result


def test_the_other_experts_are_still_asked_once_one_has_answered(db: Any, experts: list[UUID]) -> None:
    """Found on the local stack: once Priya answered Dev's question (the request moved to
    responses_received), the Account Manager's source query no longer offered it to Leo, asked
    too; his priority was deleted, and his answer a minute later read as a new text ("Got it. I
    can put a question to the network ...") and was lost. agents.md §8.14 closes a request when
    every targeted expert has answered: until then each of them can."""
    request_id, _ = routed_request(db)
    assert reply(request_id, experts[0], "We moved to Gusto; it took two weeks.").status == "recorded"
    assert requests(db)[0]["status"] == "responses_received"

    def offered(expert: UUID) -> list[UUID]:
        with PostgresUnitOfWork() as uow:
            rows = uow.priority_sources.community_requests_for_expert(
                expert, now=NOW, dormant_after=3, named_ids=[]
            )
            return [r.id for r in rows]

    assert offered(experts[0]) == []  # answered
    assert offered(experts[1]) == [request_id]
    assert reply(request_id, experts[1], "ADP, and ask them for the annual discount.").status == "recorded"


def test_answer_recorded_scored_paid_and_routed(db: Any, experts: list[UUID]) -> None:
    request_id, asker = routed_request(db)
    answered = reply(
        request_id, experts[0], "We moved to Gusto; the migration took two weeks. Avoid mid-quarter."
    )
    assert answered.status == "recorded" and answered.response_id is not None
    assert reply(request_id, experts[0], "We moved to Gusto again").status == "already_recorded"
    request = requests(db)[0]
    assert request["status"] == "responses_received" and request["responses_count"] == 1
    [received] = events(db, community.RESPONSE_RECEIVED)
    assert received["payload"]["response_id"] == str(answered.response_id)
    assert received["payload"]["expert_user_id"] == str(experts[0])

    llm = ScriptedLlm()
    for _ in range(3):
        llm.decision("score_answer", usefulness_score=9, impact_description="Shaped the payroll choice.")
    event = cloud_event(community.RESPONSE_RECEIVED, received["payload"])
    outcomes = [deliver_event(event, llm=llm) for _ in range(3)]

    assert outcomes == [Outcome.HANDLED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    response = db.execute("SELECT * FROM community_responses").fetchone()
    assert response["usefulness_score"] == 9 and response["scored_by"] == "llm"
    assert response["status"] == "rewarded" and response["credits_awarded"] == 35
    ledger = list(db.execute("SELECT * FROM credit_events"))
    assert [(r["user_id"], r["amount"], r["idempotency_key"]) for r in ledger] == [
        (experts[0], 35, f"community_response_{answered.response_id}")
    ]
    assert (
        db.execute("SELECT credit_balance FROM users WHERE id = %s", (experts[0],)).fetchone()[
            "credit_balance"
        ]
        == 35
    )
    [available] = tasks(db, community.RESPONSE_AVAILABLE)
    assert available["user_id"] == asker and available["priority"] == "high"
    assert available["agent_type"] == "account_manager"
    [notify] = tasks(db, community.NOTIFY_IMPACT)
    assert notify["user_id"] == experts[0]
    assert notify["scheduled_for"] == NOW + timedelta(hours=24)
    assert notify["context_json"]["credits_awarded"] == 35


def test_without_a_model_nothing_is_paid_until_an_operator_scores(db: Any, experts: list[UUID]) -> None:
    request_id, _ = routed_request(db)
    answered = reply(request_id, experts[1], "Use a PEO until 50 people.")
    [received] = events(db, community.RESPONSE_RECEIVED)
    assert (
        deliver_event(cloud_event(community.RESPONSE_RECEIVED, received["payload"]), llm=None)
        == Outcome.HANDLED
    )
    assert (
        deliver_event(
            cloud_event(community.RESPONSE_RECEIVED, received["payload"]),
            llm=ScriptedLlm(LlmUnavailable("down")),
        )
        == Outcome.HANDLED
    )
    assert not list(db.execute("SELECT * FROM credit_events"))
    assert len(tasks(db, community.RESPONSE_AVAILABLE)) == 1  # the requester still hears of it, once

    assert answered.response_id is not None
    with PostgresUnitOfWork() as uow:
        outcome = community.score_response(
            uow, answered.response_id, score=7, operator="ops@example.com", now=NOW
        )
        uow.commit()
    assert outcome.credits == 15 and outcome.status == "rewarded"
    with PostgresUnitOfWork() as uow, pytest.raises(community.AlreadyScored):
        community.score_response(uow, answered.response_id, score=10, operator="ops@example.com", now=NOW)
    [row] = db.execute("SELECT * FROM credit_events")
    assert row["recorded_by"] == "operator:ops@example.com"


def test_a_low_score_pays_nothing_but_closes_the_loop(db: Any, experts: list[UUID]) -> None:
    request_id, _ = routed_request(db)
    reply(request_id, experts[2], "Not sure, maybe ADP?")
    [received] = events(db, community.RESPONSE_RECEIVED)
    llm = ScriptedLlm()
    llm.decision("score_answer", usefulness_score=4, impact_description="Some context.")
    deliver_event(cloud_event(community.RESPONSE_RECEIVED, received["payload"]), llm=llm)
    response = db.execute("SELECT * FROM community_responses").fetchone()
    assert response["status"] == "provided" and response["credits_awarded"] == 0
    assert not list(db.execute("SELECT * FROM credit_events"))
    assert tasks(db, community.NOTIFY_IMPACT)


def test_solution_saga_requests_get_a_process_task(db: Any, experts: list[UUID]) -> None:
    workflow = uuid4()
    asker = person(db, "Sol")
    deliver_event(
        cloud_event(
            community.REQUEST_NEEDED,
            needed(
                asker,
                requesting_agent_type="solution_saga",
                context_id=str(workflow),
                context_type="solution_workflow",
            ),
        )
    )
    request_id = UUID(str(requests(db)[0]["id"]))
    reply(request_id, experts[0], "Rippling if you also need device management.")
    [received] = events(db, community.RESPONSE_RECEIVED)
    deliver_event(cloud_event(community.RESPONSE_RECEIVED, received["payload"]))
    [task] = tasks(db, community.PROCESS_RESPONSE)
    assert task["agent_type"] == "solution_saga" and task["context_id"] == workflow
    assert not tasks(db, community.RESPONSE_AVAILABLE)


def test_a_member_asking_through_the_concierge_and_the_saga_is_told_through_both(
    db: Any, experts: list[UUID]
) -> None:
    """The saga's request is absorbed by the member's own Concierge request (same question within
    7 days): the member waits through both agents, so an answer reaches the saga as a
    process_community_response task and the Account Manager as community_response_available.
    Redelivering the saga's request adds nothing; the saga withdrawing keeps the Concierge's place."""
    request_id, asker = routed_request(db)
    workflow = uuid4()
    saga_event = cloud_event(
        community.REQUEST_NEEDED,
        needed(
            asker,
            requesting_agent_type="solution_saga",
            context_id=str(workflow),
            context_type="solution_workflow",
        ),
    )
    for _ in range(3):
        deliver_event(saga_event)
    assert len(requests(db)) == 1
    rows = list(
        db.execute(
            "SELECT requesting_agent_type, context_id FROM community_request_requesters"
            " WHERE request_id = %s ORDER BY requesting_agent_type",
            (request_id,),
        )
    )
    assert [(r["requesting_agent_type"], r["context_id"]) for r in rows] == [
        ("concierge", None),
        ("solution_saga", workflow),
    ]

    reply(request_id, experts[0], "Rippling if you also need device management.")
    [received] = events(db, community.RESPONSE_RECEIVED)
    deliver_event(cloud_event(community.RESPONSE_RECEIVED, received["payload"]))
    [process] = tasks(db, community.PROCESS_RESPONSE)
    assert process["agent_type"] == "solution_saga" and process["context_id"] == workflow
    [available] = tasks(db, community.RESPONSE_AVAILABLE)
    assert available["user_id"] == asker

    with PostgresUnitOfWork() as uow:
        withdrawn = community.cancel_request(
            uow, request_id=request_id, user_id=asker, now=NOW, requesting_agent_type="solution_saga"
        )
        assert withdrawn == "withdrawn"
        assert [r.requesting_agent_type for r in uow.community_requests.requesters(request_id)] == [
            "concierge"
        ]
        assert community.cancel_request(uow, request_id=request_id, user_id=asker, now=NOW) == "cancelled"
        uow.commit()


def test_pass_and_referral(db: Any, experts: list[UUID]) -> None:
    request_id, _ = routed_request(db)
    dana = person(db, "Dana", "Kim")
    assert reply(request_id, experts[0], "pass").status == "passed"
    referred = reply(request_id, experts[1], "ask Dana Kim")
    assert referred.status == "referred" and referred.referred_user_id == dana
    assert dana in requests(db)[0]["target_user_ids"]
    assert any(t["user_id"] == dana for t in tasks(db, community.REQUEST_AVAILABLE))
    unknown = reply(request_id, experts[2], "ask Nobody Known")
    assert unknown.status == "referral_stored"
    [review] = db.execute("SELECT * FROM community_operator_review")
    assert review["kind"] == "unresolved_referral" and "Nobody Known" in review["detail"]
    statuses = {
        r["expert_user_id"]: r["status"] for r in db.execute("SELECT * FROM community_request_experts")
    }
    assert statuses[experts[0]] == "passed" and statuses[experts[1]] == "referred"
    assert statuses[dana] == "asked"


def test_closure_when_everyone_answered_and_on_expiry(db: Any, experts: list[UUID]) -> None:
    answered_id, _ = routed_request(db)
    db.execute(
        "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id)"
        " VALUES (%s, 1, 'community_request', %s)",
        (experts[0], answered_id),
    )
    reply(answered_id, experts[0], "Gusto.")
    reply(answered_id, experts[1], "pass")
    with PostgresUnitOfWork() as uow:
        assert community.close_due_requests(uow, now=NOW).closed == {}  # Cy has not answered yet
    reply(answered_id, experts[2], "ADP for us.")
    expiring_id, _ = routed_request(db, person(db, "Late"), category="legal")  # nobody free today: no experts

    report = community.run_closure(make_deps().uow_factory, now=NOW + timedelta(hours=1))
    assert report.closed == {"sufficient_responses": 1}
    assert community.run_closure(make_deps().uow_factory, now=NOW + timedelta(days=8)).closed == {
        "expired": 1
    }

    rows = {r["id"]: r for r in requests(db)}
    assert rows[answered_id]["status"] == "closed" and rows[answered_id]["closed_loop_at"] is not None
    assert rows[expiring_id]["status"] == "closed"
    assert {r["status"] for r in db.execute("SELECT status FROM community_responses")} == {"closed_loop"}
    assert db.execute("SELECT status FROM user_priorities").fetchone()["status"] == "expired"
    reasons = sorted(e["payload"]["closed_reason"] for e in events(db, community.REQUEST_CLOSED))
    assert reasons == ["expired", "sufficient_responses"]

    late = reply(answered_id, experts[0], "One more thought", now=NOW + timedelta(days=9))
    assert late.status == "refused" and late.reply == community.REFUSED_REPLY
    assert db.execute("SELECT kind FROM community_operator_review").fetchone()["kind"] == "late_response"


def test_member_cancellation(db: Any, experts: list[UUID]) -> None:
    request_id, asker = routed_request(db)
    other = person(db, "Bo")
    deliver_event(cloud_event(community.REQUEST_NEEDED, needed(other)))  # absorbed
    with PostgresUnitOfWork() as uow:
        assert community.cancel_request(uow, request_id=request_id, user_id=asker, now=NOW) == "withdrawn"
        assert community.cancel_request(uow, request_id=request_id, user_id=other, now=NOW) == "cancelled"
        with pytest.raises(community.NotARequester):
            community.cancel_request(uow, request_id=request_id, user_id=experts[0], now=NOW)
        uow.commit()
    assert requests(db)[0]["status"] == "cancelled"
    assert {t["status"] for t in tasks(db, community.REQUEST_AVAILABLE)} == {"cancelled"}
    [closed] = events(db, community.REQUEST_CLOSED)
    assert closed["payload"]["closed_reason"] == "manual"
    assert reply(request_id, experts[0], "Gusto").status == "refused"


def test_the_event_payload_in_platform_md_spelling_is_read_too(db: Any, experts: list[UUID]) -> None:
    asker = person(db, "Camel")
    payload = {
        "requestingAgentType": "concierge",
        "requestingUserId": str(asker),
        "question": "Payroll?",
        "category": "hr",
        "expertiseNeeded": ["payroll"],
    }
    deliver_event(cloud_event(community.REQUEST_NEEDED, payload))
    assert json.loads(json.dumps(requests(db)[0]["expertise_needed"])) == ["payroll"]


def test_the_offline_concierges_requests_join_the_sagas_for_a_vendor_question_only(
    db: Any, experts: list[UUID]
) -> None:
    """The offline Concierge tags a vendor question with its words as the Saga does, so the two
    requests for it meet; a find-person request keeps its topic alone, so it never joins another
    member's vendor question that shares a word (CI's e2e: "anyone who has done SOC 2 automation"
    joined "which compliance platform should we use for SOC 2?" while both were tagged by word)."""
    nina, dan = person(db, "Nina"), person(db, "Dan")
    vendor = "Which compliance platform should we use for SOC 2?"
    [(_, research), (_, own)] = brain.plan(read_intents([vendor]), goal_text=None)
    category = research["category"]
    sagas = normalize_expertise([category, *expertise_terms(vendor)])
    deliver_event(
        cloud_event(
            community.REQUEST_NEEDED,
            needed(nina, question=vendor, category=category, expertise_needed=list(sagas)),
        )
    )
    deliver_event(
        cloud_event(
            community.REQUEST_NEEDED,
            needed(nina, question=vendor, category=category, expertise_needed=own["expertise_needed"]),
        )
    )
    assert len(requests(db)) == 1  # the Concierge's joined the Saga's

    ask = "Do you know anyone who has done SOC 2 automation?"
    [(_, find)] = brain.plan(read_intents([ask]), goal_text=None)
    deliver_event(
        cloud_event(
            community.REQUEST_NEEDED,
            needed(dan, question=ask, category=find["category"], expertise_needed=find["expertise_needed"]),
        )
    )
    assert [r["question"] for r in requests(db)] == [vendor, ask]  # its own request
