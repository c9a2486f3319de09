"""The intro services (issue 12 §1, §2) on real Postgres: every transition and refusal, sibling pause and
cancel, the bounty paid once at completion, the expiry and reminder job on a controllable clock, the race
of two connectors, and the Intro agent's contact exchange (only after both sides accepted) and follow-up.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared import config
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.intro_port import IntroActor
from shared.domain.constants import INTRO_OFFER_EXPIRY, INTRO_OFFER_REMINDER_AFTER
from shared.domain.intros import IntroRefused, NotOpen, NotYours
from shared.service_layer.consumer import Delivery
from shared.service_layer.intros import (
    IntroService,
    handle_event,
    handle_followup_task,
    record_outcome,
    run_intro_expiry,
)
from tests.deps_support import make_deps
from tests.integration.test_concierge_intros import connection_request, member, offer, opportunity

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SERVICE = IntroService()


@pytest.fixture(autouse=True)
def _settings() -> Any:
    config.reset_settings_cache()


def actor(user_id: Any, now: datetime = NOW) -> IntroActor:
    return IntroActor(user_id=user_id, agent="concierge", now=now)


def status_of(db: Any, table: str, item_id: Any) -> str:
    return str(db.execute(f"SELECT status FROM {table} WHERE id = %s", [item_id]).fetchone()["status"])


def event_types(db: Any) -> list[str]:
    return [
        r["event_type"]
        for r in db.execute("SELECT event_type FROM events ORDER BY created_at, id").fetchall()
    ]


def credits_of(db: Any, user_id: Any) -> int:
    row = db.execute("SELECT coalesce(sum(amount), 0) AS s FROM credit_events WHERE user_id = %s", [user_id])
    return int(row.fetchone()["s"])


def queued_for(db: Any, user_id: Any) -> list[str]:
    rows = db.execute(
        "SELECT final_message FROM message_queue WHERE user_id = %s ORDER BY created_at", [user_id]
    )
    return [str(r["final_message"]) for r in rows.fetchall()]


def prospect(db: Any, innovator: Any) -> Any:
    sql = (
        "INSERT INTO prospects (email, first_name, last_name, innovator_id)"
        " VALUES ('tony@roku.com', 'Tony', 'Ruiz', %s) RETURNING id"
    )
    return db.execute(sql, [innovator]).fetchone()["id"]


def run(fn: Any) -> Any:
    with PostgresUnitOfWork() as uow:
        result = fn(uow)
        uow.commit()
    return result


def delivery(event_type: str, data: dict[str, Any], *, kind: str = "event", user_id: Any = None) -> Delivery:
    return Delivery(
        kind="task" if kind == "task" else "event",
        id=UUID(int=1),
        type=event_type,
        attempt=1,
        published_at=NOW,
        data=data,
        attributes={},
        user_id=user_id,
    )


# --- intro opportunities -----------------------------------------------------------------------


def test_accepting_pauses_siblings_and_completion_cancels_them_and_pays_the_connector_once(db):
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    a, _ = member(db, "+14155550102")
    b, _ = member(db, "+14155550103")
    p = prospect(db, innovator)
    opp_a = opportunity(db, a, innovator, prospect_id=p)
    opp_b = opportunity(db, b, innovator, prospect_id=p)

    result = run(
        lambda uow: SERVICE.answer_opportunity(uow, actor(a), opp_a, accept=True, reason="I know Tony")
    )
    assert result["siblings_paused"] == 1
    assert status_of(db, "intro_opportunities", opp_a) == "accepted"
    assert status_of(db, "intro_opportunities", opp_b) == "paused"
    assert "intro.opportunity_paused" in event_types(db)

    with pytest.raises(NotOpen, match="paused"):
        run(lambda uow: SERVICE.answer_opportunity(uow, actor(b), opp_b, accept=True, reason=None))

    outcome = run(lambda uow: record_outcome(uow, actor(a), "intro_opportunity", opp_a, met=True))
    assert outcome.paid == 50
    assert status_of(db, "intro_opportunities", opp_a) == "completed"
    assert status_of(db, "intro_opportunities", opp_b) == "cancelled"
    assert credits_of(db, a) == 50
    with pytest.raises(NotOpen):  # twice: refused, never paid twice
        run(lambda uow: record_outcome(uow, actor(a), "intro_opportunity", opp_a, met=True))
    assert credits_of(db, a) == 50
    assert "intro.opportunity_completed" in event_types(db)


def test_opportunity_refusals_change_nothing(db):
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    a, _ = member(db, "+14155550102")
    stranger, _ = member(db, "+14155550104")
    opp = opportunity(db, a, innovator, expires_at=NOW - timedelta(minutes=1))
    with pytest.raises(NotYours):
        run(lambda uow: SERVICE.answer_opportunity(uow, actor(stranger), opp, accept=True, reason=None))
    with pytest.raises(NotOpen, match="expired"):
        run(lambda uow: SERVICE.answer_opportunity(uow, actor(a), opp, accept=True, reason=None))
    assert status_of(db, "intro_opportunities", opp) == "open"
    assert event_types(db) == []


def test_two_connectors_accepting_at_once_exactly_one_proceeds(db):
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    a, _ = member(db, "+14155550102")
    b, _ = member(db, "+14155550103")
    p = prospect(db, innovator)
    opps = {a: opportunity(db, a, innovator, prospect_id=p), b: opportunity(db, b, innovator, prospect_id=p)}
    barrier = threading.Barrier(2)
    outcomes: dict[Any, str] = {}

    def accept(user: Any) -> None:
        with PostgresUnitOfWork() as uow:
            barrier.wait()
            try:
                SERVICE.answer_opportunity(uow, actor(user), opps[user], accept=True, reason=None)
                uow.commit()
                outcomes[user] = "accepted"
            except IntroRefused as exc:
                outcomes[user] = str(exc)

    threads = [threading.Thread(target=accept, args=(u,)) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(v == "accepted" for v in outcomes.values()) == [False, True], outcomes
    statuses = sorted(status_of(db, "intro_opportunities", o) for o in opps.values())
    assert statuses == ["accepted", "paused"]


# --- connection requests --------------------------------------------------------------------------


def test_connection_request_accept_then_double_accept_and_non_addressee_are_refused(db):
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    target, _ = member(db, "+14155550102")
    request = connection_request(db, target, innovator, bounty_credits=30)
    with pytest.raises(NotYours):
        run(
            lambda uow: SERVICE.answer_connection_request(
                uow, actor(innovator), request, accept=True, reason=None
            )
        )
    run(
        lambda uow: SERVICE.answer_connection_request(uow, actor(target), request, accept=True, reason="sure")
    )
    with pytest.raises(NotOpen, match="accepted"):
        run(
            lambda uow: SERVICE.answer_connection_request(
                uow, actor(target), request, accept=True, reason=None
            )
        )
    assert event_types(db).count("connection.request_accepted") == 1
    outcome = run(lambda uow: record_outcome(uow, actor(innovator), "connection_request", request, met=True))
    assert outcome.paid == 30 and credits_of(db, target) == 30


# --- intro offers --------------------------------------------------------------------------------


def test_offer_two_steps_confirm_before_accept_refused_and_bounty_from_the_innovator(db):
    connector, _ = member(db, "+14155550102")
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    db.execute(
        "INSERT INTO innovators (user_id, company_name) VALUES (%s, 'Initech')"
        " ON CONFLICT (user_id) DO NOTHING",
        [innovator],
    )
    o = offer(db, connector, innovator)
    db.execute("UPDATE intro_offers SET expires_at = %s WHERE id = %s", [NOW + INTRO_OFFER_EXPIRY, o])
    with pytest.raises(NotOpen, match="still waits on the introducee"):
        run(lambda uow: SERVICE.answer_offer(uow, actor(connector), o, action="confirm", reason=None))
    with pytest.raises(NotOpen):  # the connector cannot accept for the introducee
        run(lambda uow: SERVICE.answer_offer(uow, actor(connector), o, action="accept", reason=None))
    run(lambda uow: SERVICE.answer_offer(uow, actor(innovator), o, action="accept", reason="yes please"))
    row = db.execute("SELECT status, bounty_credits FROM intro_offers WHERE id = %s", [o]).fetchone()
    assert (row["status"], row["bounty_credits"]) == ("pending_connector_confirmation", 25)
    run(lambda uow: SERVICE.answer_offer(uow, actor(connector), o, action="confirm", reason=None))
    assert status_of(db, "intro_offers", o) == "confirmed"
    assert credits_of(db, connector) == 0  # acceptance alone pays nothing (B20)
    run(lambda uow: record_outcome(uow, actor(innovator), "intro_offer", o, met=True))
    assert credits_of(db, connector) == 25
    assert any("happened" in m for m in queued_for(db, connector))  # the connector hears how it went


def test_expiry_and_the_three_day_reminder_on_a_controllable_clock(db):
    connector, _ = member(db, "+14155550102")
    introducee, _ = member(db, "+14155550103")
    waiting = offer(db, connector, introducee)
    accepted = offer(db, connector, introducee)
    db.execute("UPDATE intro_offers SET expires_at = %s WHERE id = %s", [NOW + INTRO_OFFER_EXPIRY, waiting])
    db.execute("UPDATE intro_offers SET expires_at = %s WHERE id = %s", [NOW + INTRO_OFFER_EXPIRY, accepted])
    run(lambda uow: SERVICE.answer_offer(uow, actor(introducee), accepted, action="accept", reason=None))

    early = run_intro_expiry(PostgresUnitOfWork, now=NOW + INTRO_OFFER_REMINDER_AFTER - timedelta(hours=1))
    assert early.reminded == 0
    due = NOW + INTRO_OFFER_REMINDER_AFTER + timedelta(minutes=1)
    assert run_intro_expiry(PostgresUnitOfWork, now=due).reminded == 1
    assert run_intro_expiry(PostgresUnitOfWork, now=due).reminded == 0  # once only
    assert any("Reminder" in m for m in queued_for(db, connector))
    assert event_types(db).count("intro.offer_reminder") == 1

    late = run_intro_expiry(PostgresUnitOfWork, now=NOW + INTRO_OFFER_EXPIRY + timedelta(minutes=1))
    assert late.expired["intro_offer"] == 2
    assert status_of(db, "intro_offers", waiting) == "expired"
    with pytest.raises(NotOpen, match="expired"):
        run(lambda uow: SERVICE.answer_offer(uow, actor(connector), accepted, action="confirm", reason=None))
    assert event_types(db).count("intro.offer_expired") == 2


# --- the Intro agent ------------------------------------------------------------------------------


def test_contacts_cross_only_after_both_sides_accepted_then_the_followup_asks_both(db):
    connector, _ = member(db, "+14155550102", first_name="Ana", email="ana@acme.com")
    introducee, _ = member(db, "+14155550103", first_name="Ben", email="ben@beta.com")
    o = offer(db, connector, introducee)
    db.execute("UPDATE intro_offers SET expires_at = %s WHERE id = %s", [NOW + INTRO_OFFER_EXPIRY, o])
    run(lambda uow: SERVICE.answer_offer(uow, actor(introducee), o, action="accept", reason=None))
    assert not any("ben@beta.com" in m for m in queued_for(db, connector))
    run(lambda uow: SERVICE.answer_offer(uow, actor(connector), o, action="confirm", reason=None))
    payload = {
        "intro_offer_id": str(o),
        "offering_user_id": str(connector),
        "introducee_user_id": str(introducee),
    }
    deps = make_deps(clock=lambda: NOW)
    result = run(lambda uow: handle_event(delivery("intro.offer_confirmed", {"payload": payload}), uow, deps))
    assert result["contacts_sent"] == 2
    assert any("ben@beta.com" in m for m in queued_for(db, connector))
    assert any("ana@acme.com" in m for m in queued_for(db, introducee))
    task = db.execute(
        "SELECT scheduled_for, context_json FROM agent_tasks WHERE task_type = 'intro_followup_check'"
    )
    row = task.fetchone()
    assert row["scheduled_for"] == NOW + timedelta(days=7)
    followup = delivery(
        "intro_followup_check", {"context_json": row["context_json"]}, kind="task", user_id=connector
    )
    assert run(lambda uow: handle_followup_task(followup, uow, deps))["asked"] == 2
    # an offer: each side is asked about the meeting with the person offered
    assert any("did you meet?" in m for m in queued_for(db, introducee))
    assert any("did they meet?" in m for m in queued_for(db, connector))


def test_a_yes_to_the_checkin_offline_completes_the_intro_and_pays_the_connector(db):
    """The member's "yes" after the +7-day question, through the Concierge's offline rules (no key)."""
    from shared.domain.intros import FOLLOWUP_QUESTION
    from shared.service_layer.concierge import run_member_turn
    from tests.bouncer_support import say

    connector, _ = member(db, "+14155550102", first_name="Ana")
    introducee, conv = member(db, "+14155550103", first_name="Ben")
    o = offer(db, connector, introducee, status="confirmed")
    db.execute("UPDATE intro_offers SET bounty_credits = 25 WHERE id = %s", [o])
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status)"
        " VALUES (%s, %s, 'concierge', %s, 'outbound', 'sent')",
        [conv, introducee, FOLLOWUP_QUESTION.format(name="Ana Chen")],
    )
    say(db, introducee, conv, "Yes we did, thanks!")
    result = run_member_turn(introducee, make_deps())
    assert result.path == "fallback", result
    assert status_of(db, "intro_offers", o) == "completed"
    assert credits_of(db, connector) == 25
    assert "intro.offer_completed" in event_types(db)
    assert any("happened" in m for m in queued_for(db, connector))


def test_a_no_to_the_checkin_cancels_with_the_reason_reopens_paused_siblings_and_tells_the_connector(db):
    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    a, _ = member(db, "+14155550102")
    b, _ = member(db, "+14155550103")
    p = prospect(db, innovator)
    opp_a = opportunity(db, a, innovator, prospect_id=p)
    opp_b = opportunity(db, b, innovator, prospect_id=p)
    run(lambda uow: SERVICE.answer_opportunity(uow, actor(a), opp_a, accept=True, reason="I know Tony"))
    assert status_of(db, "intro_opportunities", opp_b) == "paused"

    # The innovator (the other side) says they never met: recorded, nothing paid, the sibling reopens.
    outcome = run(
        lambda uow: SERVICE.record_outcome(uow, actor(innovator), met=False, reason="  Tony never replied  ")
    )
    assert outcome["intro_outcome"] == "not_met" and outcome["siblings_released"] == 1
    row = db.execute(
        "SELECT status, not_met_reason, not_met_at, not_met_reported_by"
        " FROM intro_opportunities WHERE id = %s",
        [opp_a],
    ).fetchone()
    assert (row["status"], row["not_met_reason"], row["not_met_at"], row["not_met_reported_by"]) == (
        "cancelled",
        "Tony never replied",
        NOW,
        innovator,
    )
    assert status_of(db, "intro_opportunities", opp_b) == "open"
    assert credits_of(db, a) == 0
    types = event_types(db)
    assert "intro.opportunity_not_met" in types and "intro.opportunity_released" in types
    assert any("didn't get to meet" in m for m in queued_for(db, a))

    # A second answer, either way, changes nothing; the reopened sibling can now be accepted.
    with pytest.raises(NotOpen, match="already recorded"):
        run(lambda uow: record_outcome(uow, actor(a), "intro_opportunity", opp_a, met=False))
    with pytest.raises(NotOpen):
        run(lambda uow: record_outcome(uow, actor(a), "intro_opportunity", opp_a, met=True))
    assert credits_of(db, a) == 0
    run(lambda uow: SERVICE.answer_opportunity(uow, actor(b), opp_b, accept=True, reason=None))
    assert status_of(db, "intro_opportunities", opp_b) == "accepted"


def test_a_no_on_an_offer_or_a_request_is_recorded_and_refused_for_strangers(db):
    connector, _ = member(db, "+14155550102")
    introducee, _ = member(db, "+14155550103")
    stranger, _ = member(db, "+14155550104")
    o = offer(db, connector, introducee, status="confirmed")
    with pytest.raises(NotOpen):  # not one of its sides
        run(lambda uow: record_outcome(uow, actor(stranger), "intro_offer", o, met=False))
    assert status_of(db, "intro_offers", o) == "confirmed"
    run(lambda uow: record_outcome(uow, actor(connector), "intro_offer", o, met=False, reason="x" * 900))
    row = db.execute("SELECT status, not_met_reason FROM intro_offers WHERE id = %s", [o]).fetchone()
    assert row["status"] == "cancelled" and len(row["not_met_reason"]) == 500
    assert not any("didn't get to meet" in m for m in queued_for(db, connector))  # they said it themselves
    assert "intro.offer_not_met" in event_types(db)

    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    request = connection_request(db, introducee, innovator, status="accepted")
    run(lambda uow: record_outcome(uow, actor(introducee), "connection_request", request, met=False))
    row = db.execute(
        "SELECT status, not_met_reason FROM connection_requests WHERE id = %s", [request]
    ).fetchone()
    assert (row["status"], row["not_met_reason"]) == ("cancelled", None)
    assert "connection.request_not_met" in event_types(db)


def test_a_no_to_the_checkin_offline_keeps_what_the_member_said_as_the_reason(db):
    from shared.domain.intros import FOLLOWUP_QUESTION
    from shared.service_layer.concierge import run_member_turn
    from tests.bouncer_support import say

    connector, _ = member(db, "+14155550102", first_name="Ana")
    introducee, conv = member(db, "+14155550103", first_name="Ben")
    o = offer(db, connector, introducee, status="confirmed")
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status)"
        " VALUES (%s, %s, 'concierge', %s, 'outbound', 'sent')",
        [conv, introducee, FOLLOWUP_QUESTION.format(name="Ana Chen")],
    )
    say(db, introducee, conv, "No, we never found a time")
    assert run_member_turn(introducee, make_deps()).path == "fallback"
    row = db.execute("SELECT status, not_met_reason FROM intro_offers WHERE id = %s", [o]).fetchone()
    assert (row["status"], row["not_met_reason"]) == ("cancelled", "No, we never found a time")
    assert credits_of(db, connector) == 0
    assert any("didn't get to meet" in m for m in queued_for(db, connector))


# --- prospect upgrade (§3) --------------------------------------------------------------------------


def test_approval_upgrades_matching_prospects_once_and_flags_partial_matches(db):
    from shared.service_layer import approval
    from shared.service_layer.prospects import upgrade_prospects
    from tests.bouncer_support import new_user

    innovator, _ = member(db, "+14155550101", poc="innovator", innovator=True)
    other, _ = member(db, "+14155550105", poc="innovator", innovator=True)
    exact = db.execute(
        "INSERT INTO prospects (email, first_name, last_name, innovator_id)"
        " VALUES ('dana@kim.io', 'Dana', 'Kim', %s) RETURNING id",
        [innovator],
    ).fetchone()["id"]
    partial = db.execute(
        "INSERT INTO prospects (email, first_name, last_name, company, innovator_id)"
        " VALUES ('dk@gmail.com', 'Dana', 'Kim', 'Kim Labs Inc', %s) RETURNING id",
        [other],
    ).fetchone()["id"]
    dana, _ = new_user(
        db,
        "+14155550109",
        first_name="Dana",
        last_name="Kim",
        company="Kim Labs",
        title="CTO",
        email="dana@kim.io",
        email_verified=True,
        approval_status="pending",
    )
    approval.approve("+14155550109", as_="concierge", operator="test")
    task = db.execute("SELECT count(*) AS n FROM agent_tasks WHERE task_type = 'prospect_upgrade_check'")
    assert task.fetchone()["n"] == 1

    first = run(lambda uow: upgrade_prospects(uow, dana, NOW))
    again = run(lambda uow: upgrade_prospects(uow, dana, NOW))
    assert (first["upgraded"], first["review"]) == (1, 1)
    assert again["upgraded"] == 0
    assert status_of(db, "prospects", exact) == "converted"
    assert status_of(db, "prospects", partial) == "pending"
    assert credits_of(db, innovator) == 25 and credits_of(db, other) == 0
    request = db.execute(
        "SELECT status FROM connection_requests WHERE requestor_user_id = %s AND introducee_user_id = %s",
        [innovator, dana],
    ).fetchall()
    assert [r["status"] for r in request] == ["open"]
    with PostgresUnitOfWork() as uow:
        review = uow.intro_offers.prospects_to_review(10)
    assert [(r.id, r.review["score"]) for r in review] == [(partial, 60)]
