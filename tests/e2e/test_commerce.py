"""Innovator commerce end to end through ``make run`` (issue 13): the Innovator is asked for an upload
link by SMS, the link works and the upload lands; a funding link is created through the real
``stripe`` client against the Stripe stand-in, and the stand-in's signed
``checkout.session.completed``, delivered three times, credits the innovator once.

The model is the keyed stack's loopback Messages API (``tests/e2e/models.py``), whose responder plays
the Innovator's model: Call 1 picks the commerce tool the text asks for, Call 2 quotes the link the
tool returned. The stack is shared, so every query here is about this test's innovator.
"""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

import psycopg
import pytest
import requests

from tools.localstack.phone import send_sms, sent_messages

from .conftest import KeyedStack, RunningStack
from .models import LINK

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.pubsub, pytest.mark.xdist_group("e2e")]

PHONE = "+14155550166"
CSV = (
    "\ufeffFirst Name,Last Name,Company,Email,Phone,LinkedIn URL\r\n"
    "Ada,Lovelace,Analytical,ada@example.com,+1 415 555 0123,https://www.linkedin.com/in/ada\r\n"
    "Bob,,,bob@@example,,\r\n"
    "Cy,Young,Acme,cy@example.com,,\r\n"
).encode()


def _query(stack: RunningStack, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.info.database_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _seed_innovator(stack: RunningStack) -> Any:
    ((user_id,),) = _query(
        stack,
        "INSERT INTO users (phone_number, first_name, last_name, company, title, email, email_verified,"
        " verified, approval_status, poc_agent_type, onboarding_completed_at)"
        " VALUES (%s, 'Ines', 'Vendor', 'Globex', 'CEO', 'ines@globex.example', true, true, 'approved',"
        " 'innovator', now()) RETURNING id",
        PHONE,
    )
    _query(
        stack, "INSERT INTO innovators (user_id, company_name) VALUES (%s, 'Globex') RETURNING id", user_id
    )
    return user_id


def _text_and_wait_for_link(stack: RunningStack, text: str, kind: str) -> str:
    seen = len(sent_messages(stack.info, PHONE))
    assert send_sms(stack.info, PHONE, text).status_code == 200
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for message in sent_messages(stack.info, PHONE)[seen:]:
            found: list[str] = [link for link in LINK.findall(message["body"]) if kind in link]
            if found:
                return found[0]
        time.sleep(0.5)
    pytest.fail(f"no {kind} link texted: {[m['body'] for m in sent_messages(stack.info, PHONE)]}")


def test_an_innovator_uploads_a_list_and_buys_credits_through_the_stack(keyed_stack: KeyedStack) -> None:
    stack = keyed_stack.stack
    assert any("Stripe stand-in on" in line for line in stack.output), stack.output[-30:]
    user_id = _seed_innovator(stack)

    # 1-3: asked for a link by SMS; the link works; the upload lands.
    link = _text_and_wait_for_link(stack, "Can I upload my prospect list?", "?t=")
    assert link.startswith(stack.info.function_urls["prospect_upload"])
    session = requests.Session()
    form = session.get(link, timeout=10)
    assert form.status_code == 200, form.text
    csrf = html.unescape(re.search(r'name=csrf value="([^"]+)"', form.text)[1])  # type: ignore[index]
    token = link.split("?t=", 1)[1]
    preview = session.post(
        link,
        data={"t": token, "csrf": csrf, "action": "preview"},
        files={"file": ("leads.csv", CSV, "text/csv")},
        timeout=30,
    )
    assert preview.status_code == 200 and "2 valid, 0 warnings, 1 errors" in preview.text, preview.text
    batch = re.search(r'name=batch value="([^"]+)"', preview.text)[1]  # type: ignore[index]
    saved = session.post(
        link, data={"t": token, "csrf": csrf, "action": "confirm", "batch": batch}, timeout=30
    )
    assert saved.status_code == 200 and "2 prospects" in saved.text, saved.text
    rows = _query(
        stack, "SELECT email, innovator_id FROM prospects WHERE innovator_id = %s ORDER BY email", user_id
    )
    assert rows == [("ada@example.com", user_id), ("cy@example.com", user_id)]

    # 4: a funding link, a Checkout Session on the stand-in made by the real stripe client.
    pay_link = _text_and_wait_for_link(stack, "I'd like to buy 100 credits", "/c/pay/")
    session_id = pay_link.rsplit("/", 1)[1]
    assert _query(stack, "SELECT status FROM credit_purchases WHERE stripe_session_id = %s", session_id) == [
        ("open",)
    ]

    # 5: the signed checkout.session.completed, delivered three times, credits once.
    paid = requests.post(
        f"{stack.info.stripe_standin_url}/_pay/{session_id}",
        data=json.dumps({"times": 3}),
        timeout=60,
    ).json()
    assert paid["statuses"] == [200, 200, 200], paid
    assert _query(stack, "SELECT credit_balance FROM users WHERE id = %s", user_id) == [(100,)]
    assert _query(stack, "SELECT count(*), sum(amount) FROM credit_events WHERE user_id = %s", user_id) == [
        (1, 100)
    ]
    assert _query(stack, "SELECT status FROM credit_purchases WHERE user_id = %s", user_id) == [("paid",)]
    # 6: the buyer paid on a web page and hears back by SMS, once.
    receipt = "Payment received, thank you. 100 credits added; you now have 100 credits."
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any(
        m["body"] == receipt for m in sent_messages(stack.info, PHONE)
    ):
        time.sleep(0.5)
    bodies = [m["body"] for m in sent_messages(stack.info, PHONE)]
    assert bodies.count(receipt) == 1, bodies
