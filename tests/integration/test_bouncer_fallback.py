"""The Bouncer with no LLM (decisions A10): deterministic extraction and templates, real Postgres."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.email_parsing import InboundEmail
from shared.service_layer.bouncer import run_bouncer_turn
from shared.service_layer.email_verification import Outcome, record_verification_email
from tests.bouncer_support import DOMAIN, deliver_queued, new_user, replies, say
from tests.deps_support import make_deps

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _domain(monkeypatch: Any) -> Any:
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", DOMAIN)
    from shared import config

    config.reset_settings_cache()


def user_row(db: Any, user_id: Any) -> Any:
    return db.execute("SELECT * FROM users WHERE id = %s", [user_id]).fetchone()


def turn(db: Any, user_id: Any, conversation_id: Any, text: Any) -> Any:
    before = len(replies(db, user_id))
    say(db, user_id, conversation_id, text)
    result = run_bouncer_turn(user_id, make_deps())
    assert result.path == "fallback", result
    return replies(db, user_id)[before:]


def verification_pending_events(db: Any, user_id: Any) -> int:
    row = db.execute(
        "SELECT count(*) AS n FROM events WHERE aggregate_id = %s"
        " AND event_type = 'user.verification.pending'",
        [user_id],
    ).fetchone()
    return int(row["n"])


def no_exclamations(texts: Any) -> Any:
    return all("!" not in t for t in texts)


def test_offline_onboarding_end_to_end(db):
    user_id, conv = new_user(db)
    first = turn(db, user_id, conv, "hey")
    assert first == ["Hey... who told you about this?"]
    assert "name" in turn(db, user_id, conv, "Ben Trenda")[0].lower()
    assert user_row(db, user_id)["name_dropped"] == "Ben Trenda"
    assert user_row(db, user_id)["first_name"] is None  # the referrer is never the user's own name

    assert "last name" in turn(db, user_id, conv, "John")[0].lower()
    assert "work" in turn(db, user_id, conv, "Smith")[0].lower()
    assert "do there" in turn(db, user_id, conv, "Acme Corp")[0].lower()
    ask = turn(db, user_id, conv, "VP of Sales")
    user = user_row(db, user_id)
    address = f"verify-{user['verification_token']}@{DOMAIN}"
    assert any(address in r for r in ask)
    assert not any("still waiting" in r.lower() for r in ask), ask  # the first ask is not a reminder
    assert (user["first_name"], user["last_name"], user["company"], user["title"]) == (
        "John",
        "Smith",
        "Acme Corp",
        "VP of Sales",
    )
    assert verification_pending_events(db, user_id) == 1  # the address handed out once

    outcome = record_verification_email(InboundEmail((address,), "john@acme.com", "generic"), domain=DOMAIN)
    assert outcome.outcome is Outcome.VERIFIED
    result = run_bouncer_turn(user_id, make_deps())
    assert result.status == "answered" and result.queue_ids  # proactive: through the orchestrator
    deliver_queued()  # the user texted minutes ago: a reply-time exemption, sent at once (B1)
    done = replies(db, user_id)[-1]
    assert "got your email" in done.lower()
    user = user_row(db, user_id)
    assert user["onboarding_completed_at"] is not None
    assert user["approval_status"] == "pending"
    assert user["verified"] is False and user["poc_agent_type"] == "bouncer"
    complete = db.execute(
        "SELECT payload FROM events WHERE aggregate_id = %s AND event_type = 'user.onboarding_info_complete'",
        [user_id],
    ).fetchall()
    assert len(complete) == 1
    assert no_exclamations(replies(db, user_id))
    fallbacks = db.execute(
        "SELECT count(*) AS n FROM agent_actions_log WHERE user_id = %s AND action_type = 'bouncer_fallback'",
        [user_id],
    ).fetchone()
    assert fallbacks["n"] == 7


def test_a_question_is_answered_not_stored_and_a_member_between_roles_is_asked_their_last_one(db):
    """Found texting the local stack: asked who told them, "why do you need that?" was stored as
    the referrer (name_dropped) and got "Got it. And you are?"; "I'm between jobs right now" got
    "Where do you work?" again; "I was COO at a fintech" was stored as the company, whole."""
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hey")
    assert turn(db, user_id, conv, "why do you need that?") == [
        "It's invite-only, and the team reviews every request before anyone gets in. Who told you about this?"
    ]
    assert user_row(db, user_id)["name_dropped"] is None
    turn(db, user_id, conv, "Maya Chen")
    assert turn(db, user_id, conv, "how did you get my number") == [
        "It's invite-only, and the team reviews every request before anyone gets in. "
        "And you are? First and last name."
    ]
    assert user_row(db, user_id)["first_name"] is None
    turn(db, user_id, conv, "Jane Doe")
    assert turn(db, user_id, conv, "I'm between jobs right now") == ["What was your last role?"]
    assert user_row(db, user_id)["company"] == "Between roles"
    turn(db, user_id, conv, "I was COO at a fintech")
    row = user_row(db, user_id)
    assert (row["company"], row["title"]) == ("Between roles", "COO")


def test_are_you_a_bot_is_answered_truthfully_and_never_stored(db):
    """Found texting the local stack: "are you a bot", with no "?", asked who told them about
    this, was stored as the referrer and got "Got it. And you are?"."""
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hey")
    assert turn(db, user_id, conv, "are you a bot") == [
        "I'm Yachtparty's automated assistant, and the team reviews every request before anyone gets in. "
        "Who told you about this?"
    ]
    assert user_row(db, user_id)["name_dropped"] is None
    turn(db, user_id, conv, "Maya Chen")
    assert turn(db, user_id, conv, "can I talk to a human?") == [
        "I'm Yachtparty's automated assistant, and the team reviews every request before anyone gets in. "
        "And you are? First and last name."
    ]
    assert user_row(db, user_id)["first_name"] is None


def test_a_past_role_is_read_as_title_and_company(db):
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hey")
    turn(db, user_id, conv, "Maya Chen")
    turn(db, user_id, conv, "Jane Doe")
    turn(db, user_id, conv, "I was COO at Globex")
    row = user_row(db, user_id)
    assert (row["company"], row["title"]) == ("Globex", "COO")


def test_everything_in_one_message_with_middle_name(db):
    user_id, conv = new_user(db)
    out = turn(db, user_id, conv, "Hi, Ben Trenda sent me. I'm John Michael Smith, VP of Sales at Acme Corp.")
    user = user_row(db, user_id)
    assert (user["first_name"], user["last_name"]) == ("John", "Smith")
    assert (user["company"], user["title"], user["name_dropped"]) == (
        "Acme Corp",
        "VP of Sales",
        "Ben Trenda",
    )
    assert any(f"verify-{user['verification_token']}@{DOMAIN}" in r for r in out)
    assert any(r.startswith("Last step.") for r in out), out


def test_out_of_order_company_before_name(db):
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hello")
    turn(db, user_id, conv, "Sarah Lee referred me")
    out = turn(db, user_id, conv, "I work at Globex as Head of Product")
    user = user_row(db, user_id)
    assert (user["company"], user["title"]) == ("Globex", "Head of Product")
    assert user["first_name"] is None
    assert "name" in out[0].lower()
    turn(db, user_id, conv, "Maria de la Cruz")
    user = user_row(db, user_id)
    assert (user["first_name"], user["last_name"]) == ("Maria", "de la Cruz")


def test_typed_email_is_never_stored(db):
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hi")
    turn(db, user_id, conv, "Ben")
    out = turn(db, user_id, conv, "I'm Jane Doe, my email is jane@globex.com")
    user = user_row(db, user_id)
    assert user["email"] is None and user["email_verified"] is False
    assert (user["first_name"], user["last_name"]) == ("Jane", "Doe")
    assert "doesn't verify" in " ".join(out)
    stored = db.execute("SELECT count(*) AS n FROM users WHERE email IS NOT NULL").fetchone()
    assert stored["n"] == 0


def test_after_the_address_is_handed_out_a_typed_email_or_a_question_gets_its_own_answer(db):
    """Found texting the local stack: once onboarding had every field, every later text re-ran
    send_verification_email and got the first ask again, word for word, so a typed address never
    heard that typing verifies nothing and "what is this?" never got the blurb."""
    user_id, conv = new_user(db)
    [first] = turn(db, user_id, conv, "Hi, I'm Marcus Lee, CFO at Northwind. Maya Patel told me to text you")
    address = f"verify-{user_row(db, user_id)['verification_token']}@{DOMAIN}"
    assert first.startswith("Last step.") and address in first
    assert turn(db, user_id, conv, "marcus.lee@northwind.com") == [
        "Typing an address doesn't verify anything; the email has to come from your work account.",
        f"Still waiting on that email from your work address to {address}.",
    ]
    assert turn(db, user_id, conv, "what is this?")[0].startswith("I'm just the bouncer. Yachtparty")
    assert verification_pending_events(db, user_id) == 1  # the address handed out once


def test_referral_matches_a_verified_member(db):
    ben, _ = new_user(
        db,
        "+14155550111",
        first_name="Ben",
        last_name="Trenda",
        verified=True,
        poc_agent_type="concierge",
        company="Initech",
    )
    new_user(
        db, "+14155550112", first_name="Ben", last_name="Stone", verified=True, poc_agent_type="concierge"
    )
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hey")
    turn(db, user_id, conv, "ben trenda")
    user = user_row(db, user_id)
    assert user["referred_by"] == ben
    assert user["name_dropped"] is None
    # "Ben" alone is ambiguous without the LLM: kept as name_dropped, not guessed
    other, conv2 = new_user(db, "+14155550113")
    turn(db, other, conv2, "hey")
    turn(db, other, conv2, "Ben")
    row = user_row(db, other)
    assert row["referred_by"] is None and row["name_dropped"] == "Ben"


def test_three_rapid_texts_get_one_reply(db):
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hey")
    turn(db, user_id, conv, "Ben Trenda")
    say(db, user_id, conv, "John")
    say(db, user_id, conv, "Smith")
    say(db, user_id, conv, "I work at Acme")
    before = len(replies(db, user_id))
    result = run_bouncer_turn(user_id, make_deps())
    assert len(result.answered) == 3
    assert len(replies(db, user_id)) == before + 1
    again = run_bouncer_turn(user_id, make_deps())  # a redelivered event finds nothing unanswered
    assert again.status == "noop"
    user = user_row(db, user_id)
    assert (user["first_name"], user["last_name"], user["company"]) == ("John", "Smith", "Acme")


def test_what_is_this_and_not_interested(db):
    user_id, conv = new_user(db)
    out = turn(db, user_id, conv, "what is this?")
    assert out[0].startswith("I'm just the bouncer.")
    assert "no fees" in out[0].lower()
    out = turn(db, user_id, conv, "not interested")
    assert out == ["Understood. I'll close out your invite."]
    open_tasks = db.execute(
        "SELECT count(*) AS n FROM agent_tasks WHERE user_id = %s AND status = 'pending'", [user_id]
    ).fetchone()
    assert open_tasks["n"] == 0
    assert (
        db.execute("SELECT status FROM conversations WHERE id = %s", [conv]).fetchone()["status"] == "closed"
    )
    log = db.execute(
        "SELECT output_data FROM agent_actions_log WHERE user_id = %s"
        " AND action_type = 'onboarding_declined'",
        [user_id],
    ).fetchone()
    assert log is not None


def test_email_verified_trigger_with_missing_info_asks_for_it(db):
    user_id, conv = new_user(db)
    turn(db, user_id, conv, "hey")
    turn(db, user_id, conv, "Ben")
    token = user_row(db, user_id)["verification_token"]
    record_verification_email(
        InboundEmail((f"verify-{token}@{DOMAIN}",), "x@acme.com", "generic"), domain=DOMAIN
    )
    run_bouncer_turn(user_id, make_deps())
    deliver_queued()
    last = replies(db, user_id)[-1]
    assert last.startswith("Got your email, thanks.")
    assert "name" in last.lower()
    user = user_row(db, user_id)
    assert user["onboarding_completed_at"] is None
    system = db.execute(
        "SELECT content, direction, status FROM messages WHERE user_id = %s AND role = 'system'", [user_id]
    ).fetchone()
    assert json.loads(system["content"])["type"] == "email_verified_acknowledgment"
    assert (system["direction"], system["status"]) == ("inbound", "received")
    assert datetime.now(UTC) > user["created_at"]
