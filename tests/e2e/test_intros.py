"""A warm introduction end to end through ``make run``, with no model key (the Concierge's offline rules):
A offers to introduce B (an innovator) to someone; B accepts; A confirms; both get each other's details;
the +7-day check-in (its task brought forward to now, as an operator would) asks B whether they met the
person offered ("... your intro with Jim Park, through Ana ...: did you meet?"); B's
"yes" pays A the bounty once. Texts go in as signed Twilio webhooks and out through the Twilio stand-in.
The no-key stack is shared (``conftest.py``): every query here is about this test's two members.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tools.localstack.phone import send_sms, sent_messages
from tools.localstack.relay import post_signed

from .conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.pubsub, pytest.mark.xdist_group("e2e")]

PHONE_A = "+14155550181"
PHONE_B = "+14155550182"
WAIT = 90.0
SWEEPS = ("event_dispatcher", "task_sweeper", "message_orchestrator")


def _query(stack: RunningStack, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.info.database_url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


def _member(stack: RunningStack, phone: str, first: str, email: str, poc: str) -> Any:
    ((user_id,),) = _query(
        stack,
        "INSERT INTO users (phone_number, first_name, last_name, company, title, email, email_verified,"
        " verified, approval_status, poc_agent_type, onboarding_completed_at, timezone, response_pattern)"
        " VALUES (%s, %s, 'Tester', 'Acme', 'CEO', %s, true, true, 'approved', %s, now(), %s,"
        " jsonb_build_object('best_hours', (SELECT jsonb_agg(h) FROM generate_series(0, 23) AS h)))"
        " RETURNING id",
        phone,
        first,
        email,
        poc,
        _midday_zone(),
    )
    return user_id


def _midday_zone() -> str:
    """A fixed-offset zone where it is 12:xx now, and every hour a good send hour: quiet hours and the
    default 10:00 send time never hold a proactive text back in this test."""
    offset = (12 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX sign: Etc/GMT-10 is UTC+10


def _presented(stack: RunningStack, user_id: Any, item_type: str, item_id: Any, summary: str) -> None:
    """The Account Manager's row for the item shown to the member last."""
    _query(
        stack,
        "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id, value_score, status,"
        " presentation_count, last_presented_at, item_summary) VALUES (%s, 1, %s, %s, 80, 'presented', 1,"
        " now(), %s) ON CONFLICT (user_id, item_type, item_id) DO UPDATE SET status = 'presented',"
        " presentation_count = 1, last_presented_at = now(), item_summary = EXCLUDED.item_summary",
        user_id,
        item_type,
        item_id,
        summary,
    )


def _until(what: str, check: Any, stack: RunningStack | None = None) -> Any:
    """Poll ``check``; with ``stack``, also run the scheduler loop's sweeps every few seconds."""
    deadline = time.monotonic() + WAIT
    last_tick = 0.0
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if stack is not None and time.monotonic() - last_tick > 3:
            for name in SWEEPS:
                post_signed(
                    stack.info.function_urls[name], stack.info.webhook_signing_secret, {"sweep": True}
                )
            last_tick = time.monotonic()
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def _texted(stack: RunningStack, phone: str, fragment: str) -> str:
    def check() -> str | None:
        return next((m["body"] for m in sent_messages(stack.info, phone) if fragment in m["body"]), None)

    return str(_until(f"{fragment!r} texted to {phone}", check, stack))


def _status(stack: RunningStack, offer_id: Any) -> str:
    return str(_query(stack, "SELECT status FROM intro_offers WHERE id = %s", offer_id)[0][0])


def test_a_warm_intro_offer_is_accepted_confirmed_exchanged_followed_up_and_paid_once(
    local_stack: RunningStack,
) -> None:
    stack = local_stack
    a = _member(stack, PHONE_A, "Ana", "ana@acme.example", "concierge")
    b = _member(stack, PHONE_B, "Ben", "ben@globex.example", "innovator")
    _query(
        stack,
        "INSERT INTO innovators (user_id, company_name, warm_intro_bounty) VALUES (%s, 'Globex', 30)",
        b,
    )
    ((request,),) = _query(
        stack,
        "INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name,"
        " intro_context) VALUES (%s, %s, 'Ben Tester', 'selling SOC 2 automation') RETURNING id",
        a,
        b,
    )
    _presented(stack, a, "connection_request", request, "Ben Tester wants to meet")

    # A offers to introduce B to someone.
    assert send_sms(stack.info, PHONE_A, "Not me, but I can introduce you to Jim Park at Stripe").ok
    rows = _until(
        "the offer", lambda: _query(stack, "SELECT id FROM intro_offers WHERE offering_user_id = %s", a)
    )
    offer = rows[0][0]
    assert _status(stack, offer) == "pending_introducee_response"

    # B accepts; A confirms.
    _presented(stack, b, "intro_offer", offer, "Jim Park at Stripe")
    assert send_sms(stack.info, PHONE_B, "Yes please").ok
    _until("B's accept", lambda: _status(stack, offer) == "pending_connector_confirmation")
    _presented(stack, a, "intro_offer", offer, "Jim Park at Stripe")
    assert send_sms(stack.info, PHONE_A, "Yes").ok
    _until("A's confirm", lambda: _status(stack, offer) == "confirmed")

    # Both receive each other's details, only now.
    assert "ben@globex.example" in _texted(stack, PHONE_A, "You're connected")
    assert "ana@acme.example" in _texted(stack, PHONE_B, "You're connected")

    # A week passes: the +7-day check-in falls due, and the sends of this hour are a week old
    # (otherwise the hourly budget, B1, rightly holds the third proactive text back).
    _until(
        "the follow-up task",
        lambda: _query(
            stack,
            "SELECT id FROM agent_tasks WHERE task_type = 'intro_followup_check' AND context_id = %s",
            offer,
        ),
    )
    _query(
        stack,
        "UPDATE agent_actions_log SET created_at = created_at - interval '7 days'"
        " WHERE user_id IN (%s, %s) AND action_type LIKE 'proactive_send%%'",
        a,
        b,
    )
    _query(
        stack,
        "UPDATE user_message_budget SET date = date - 7,"
        " last_message_at = last_message_at - interval '7 days' WHERE user_id IN (%s, %s)",
        a,
        b,
    )
    _query(
        stack,
        "UPDATE agent_tasks SET scheduled_for = now() WHERE task_type = 'intro_followup_check'"
        " AND context_id = %s",
        offer,
    )
    # an offer: B is asked about the person A offered, A whether they met (44b6860)
    assert "your intro with Jim Park, through" in _texted(stack, PHONE_B, "did you meet?")
    _texted(stack, PHONE_A, "did they meet?")

    # B's "yes" completes the intro and pays A once.
    assert send_sms(stack.info, PHONE_B, "Yes we did").ok
    _until("completion", lambda: _status(stack, offer) == "completed")
    assert _query(stack, "SELECT count(*), sum(amount) FROM credit_events WHERE user_id = %s", a) == [(1, 30)]
    _texted(stack, PHONE_A, "the intro you made happened")
