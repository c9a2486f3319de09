"""`ops status` shows outbound SMS health; `ops costs` reads the LLM ledger."""

import json
from collections.abc import Sequence
from typing import Any

import pytest

from tests.backbone_support import make_user

pytestmark = pytest.mark.integration


def _conversation(db, user) -> Any:
    """The member's active conversation (make_user opens it, as their first text does)."""
    return db.execute(
        "SELECT id FROM conversations WHERE user_id = %s AND status = 'active'", (user,)
    ).fetchone()["id"]


def sent_now(db, conversation, user, outcomes: Sequence[tuple[str, int | None]]) -> None:
    """One outbound SMS handed to Twilio just now per (status, error code)."""
    for n, (status, code) in enumerate(outcomes):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, attempts,"
            " sent_at, error_code) VALUES (%s, %s, 'bouncer', %s, 'outbound', %s, 1, now(), %s)",
            (conversation, user, f"m{n}", status, code),
        )


def test_status_counts_stuck_outbound_sms(db, ops_cli):
    user = make_user(db)
    conversation = _conversation(db, user)
    for age in ("10 minutes", "10 seconds"):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, created_at) "
            "VALUES (%s, %s, 'bouncer', 'hi', 'outbound', 'pending', now() - %s::interval)",
            (conversation, user, age),
        )
    out = ops_cli("status")
    assert out.exit_code == 0, out.output
    line = next(line for line in out.output.splitlines() if "outbound SMS unsent" in line)
    assert " 2 " in line
    assert "stuck > 0:02:00: 1" in line


def test_status_counts_only_waiting_queued_messages_as_due(db, ops_cli):
    """Found reading `ops status` on the local stack: "message_queue sent 7 | due 7", as if seven
    messages were waiting; a sent row was counted as due because its scheduled time had passed."""
    user = make_user(db)
    for status, when in (
        ("sent", "-1 hour"),
        ("sent", "-2 hours"),
        ("queued", "-1 minute"),
        ("queued", "1 hour"),
    ):
        db.execute(
            "INSERT INTO message_queue (user_id, agent_id, message_data, status, scheduled_for)"
            " VALUES (%s, 'concierge', '{}'::jsonb, %s, now() + %s::interval)",
            (user, status, when),
        )
    out = ops_cli("status")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    queued = next(line for line in lines if "message_queue queued" in line)
    assert " 2 " in queued and "due 1" in queued
    sent = next(line for line in lines if "message_queue sent" in line)
    assert " 2 " in sent and "due" not in sent


def test_costs_sums_the_ledger_per_day_and_per_inbound_message(db, ops_cli):
    user = make_user(db)
    conversation = _conversation(db, user)
    for cost, read in ((0.004, 3000), (0.006, 0)):
        db.execute(
            "INSERT INTO agent_actions_log (agent_type, action_type, user_id, model, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms) "
            "VALUES ('bouncer', 'llm_call', %s, 'm', 1000, 50, %s, 0, %s, 10)",
            (user, read, cost),
        )
    db.execute(
        "INSERT INTO agent_actions_log (agent_type, action_type, cost_usd) "
        "VALUES ('bouncer', 'agent_turn', 99)"
    )
    for sid in ("SM1", "SM2"):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, "
            "twilio_message_sid) VALUES (%s, %s, 'user', 'hello', 'inbound', 'received', %s)",
            (conversation, user, sid),
        )
    out = ops_cli("costs", "--days", "3")
    assert out.exit_code == 0, out.output
    assert "0.0100" in out.output  # only llm_call rows count
    assert "60%" in out.output  # 3000 cached of 5000 input tokens
    assert "$0.00500 per message" in out.output


def test_costs_rejects_a_nonsense_window(ops_cli):
    out = ops_cli("costs", "--days", "0")
    assert out.exit_code != 0


def test_status_shows_every_signal_against_its_threshold_breached_in_red(db, ops_cli):
    quiet = ops_cli("status")
    assert quiet.exit_code == 0, quiet.output
    assert "Alert signals" in quiet.output
    assert "BREACHED" not in quiet.output
    assert "database CPU" in quiet.output  # named, with where to look

    user = make_user(db)
    conversation = _conversation(db, user)
    # 20 SMS handed to Twilio in the last hour, 2 came back undelivered: 10 % > 5 %.
    sent_now(db, conversation, user, [("undelivered", None)] * 2 + [("delivered", None)] * 18)
    # An SMS claimed 20 minutes ago and never settled: the sms_sending backlog is over 15 minutes.
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, attempts,"
        " claimed_at) VALUES (%s, %s, 'bouncer', 'stuck', 'outbound', 'sending', 1,"
        " now() - interval '20 minutes')",
        (conversation, user),
    )
    out = ops_cli("status")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    failures = next(line for line in lines if "SMS delivery failures" in line)
    assert "10.0% of 20" in failures and "BREACHED" in failures
    sending = next(line for line in lines if "backlog sms_sending" in line)
    assert "BREACHED" in sending
    events = next(line for line in lines if "backlog events" in line)
    assert "ok" in events
    assert "over threshold:" in out.output


def test_status_does_not_count_an_opt_out_as_a_delivery_failure(db, ops_cli):
    """A status callback with Twilio's 21610 leaves the row undelivered: the member opted out,
    which is no delivery failure (the delivery_failures alert agrees: docs/operating.md)."""
    user = make_user(db)
    conversation = _conversation(db, user)
    outcomes = [("undelivered", 21610)] * 2 + [("undelivered", None)] + [("delivered", None)] * 17
    sent_now(db, conversation, user, outcomes)
    out = ops_cli("status")
    assert out.exit_code == 0, out.output
    failures = next(line for line in out.output.splitlines() if "SMS delivery failures" in line)
    assert "5.0% of 20" in failures and "BREACHED" not in failures  # 1 undelivered, not 3


def test_member_export_is_what_we_hold_about_one_member(db, ops_cli):
    """A member's request for a copy of their data (agents.md §2.3): `ops member-export <phone>`."""
    user = make_user(db)
    phone = db.execute("SELECT phone_number FROM users WHERE id = %s", (user,)).fetchone()["phone_number"]
    conversation = _conversation(db, user)
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, created_at) VALUES"
        " (%s, %s, 'user', 'any advice on SOC 2?', 'inbound', 'received', now() - interval '1 minute'),"
        " (%s, %s, 'concierge', 'I''ll get that question out to the network.', 'outbound', 'sent', now())",
        (conversation, user, conversation, user),
    )
    db.execute(
        "INSERT INTO credit_events (user_id, event_type, amount, reference_type, reference_id,"
        " idempotency_key, description, processed)"
        " VALUES (%s, 'operator_grant', 10, 'operator', %s, %s, 'welcome', true)",
        (user, user, f"export-test-{user}"),
    )
    other = make_user(db)
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status)"
        " VALUES (%s, %s, 'user', 'not theirs', 'inbound', 'received')",
        (_conversation(db, other), other),
    )
    out = ops_cli("member-export", phone)
    assert out.exit_code == 0, out.output
    export = json.loads(out.output)
    assert export["profile"]["phone_number"] == phone
    assert [m["content"] for m in export["messages"]] == [
        "any advice on SOC 2?",
        "I'll get that question out to the network.",
    ]
    assert [(c["type"], c["amount"]) for c in export["credits"]] == [("operator_grant", 10)]
    assert set(export) == {
        "profile",
        "messages",
        "questions_asked",
        "answers_given",
        "credits",
        "introductions",
    }
    missing = ops_cli("member-export", "+14155550999")
    assert missing.exit_code == 1
