"""The stripe_webhook function through functions-framework (issue 13), with Checkout Sessions made by
``request_credit_funding`` through the real ``stripe`` SDK against the local stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared.domain.constants import CREDIT_PACKS, STRIPE_WEBHOOK_MAX_BYTES
from tests.commerce_support import (
    WEBHOOK_SECRET,
    funding,
    innovator,
)
from tests.commerce_support import (
    stripe_standin as stripe_env,
)
from tools.fakes.loopback_http import serve_in_thread
from tools.fakes.stripe_api import StripeStandin, event_for, sign_payload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stripe_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeStandin]:
    with stripe_env(monkeypatch) as standin:
        yield standin


@pytest.fixture
def client(database_url: Any, stripe_standin: StripeStandin) -> Any:
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "stripe_webhook", str(ROOT / "functions" / "stripe_webhook" / "main.py")
    ).test_client()


def deliver(client: Any, event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, t: int | None = None) -> Any:
    payload = json.dumps(event)
    return client.post(
        "/",
        data=payload,
        headers={"Stripe-Signature": sign_payload(payload, secret, t)},
        content_type="application/json",
    )


def paid_event(standin: StripeStandin, session_id: str, **overrides: Any) -> dict[str, Any]:
    session = {**standin.sessions[session_id], "status": "complete", "payment_status": "paid", **overrides}
    return event_for(session)


def balance(db: Any, user_id: Any) -> int:
    return int(
        db.execute("SELECT credit_balance FROM users WHERE id = %s", [user_id]).fetchone()["credit_balance"]
    )


def receipts(db: Any, user_id: Any) -> list[tuple[Any, ...]]:
    rows = db.execute(
        "SELECT final_message, agent_id, priority, scheduled_for <= now() AS due, message_data"
        " FROM message_queue WHERE user_id = %s AND message_data->>'kind' = 'credit_purchase'",
        [user_id],
    ).fetchall()
    return [tuple(r.values()) for r in rows]


def ledger(db: Any, user_id: Any) -> Any:
    return db.execute("SELECT * FROM credit_events WHERE user_id = %s", [user_id]).fetchall()


def test_funding_link_is_a_checkout_session_priced_from_the_table(db, stripe_standin):
    buyer = innovator(db)
    result = funding(buyer, 80)
    credits, cents = CREDIT_PACKS[0]
    assert result["status"] == "link_created" and result["credits"] == credits
    assert result["url"].startswith(stripe_standin.url + "/c/pay/cs_test_")
    [session] = stripe_standin.sessions.values()
    assert session["client_reference_id"] == str(buyer)
    assert (session["amount_total"], session["currency"], session["mode"]) == (cents, "usd", "payment")
    row = db.execute("SELECT * FROM credit_purchases").fetchone()
    assert (row["user_id"], row["stripe_session_id"], row["credits"], row["amount_cents"], row["status"]) == (
        buyer,
        session["id"],
        credits,
        cents,
        "open",
    )
    too_many = funding(buyer, 10**6)
    assert too_many["status"] == "too_many_credits" and "url" not in too_many


def test_paid_completion_credits_once_even_when_delivered_three_times(client, db, stripe_standin):
    buyer = innovator(db)
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    event = paid_event(stripe_standin, session_id)
    answers = [deliver(client, event) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.get_json()["outcome"] for a in answers] == ["credited", "already_credited", "already_credited"]
    assert balance(db, buyer) == 100
    [entry] = ledger(db, buyer)
    purchase = db.execute("SELECT * FROM credit_purchases").fetchone()
    assert (entry["reference_type"], entry["reference_id"]) == ("credit_purchase", purchase["id"])
    assert entry["idempotency_key"] == f"credit_purchase_{session_id}"
    assert (purchase["status"], purchase["credit_event_id"], purchase["stripe_event_id"]) == (
        "paid",
        entry["id"],
        event["id"],
    )
    # A second event (new id) for the same session still pays nothing more.
    assert deliver(client, paid_event(stripe_standin, session_id)).get_json()["outcome"] == "already_credited"
    assert balance(db, buyer) == 100
    # One receipt, queued in the paying transaction, from the buyer's point of contact.
    assert receipts(db, buyer) == [
        (
            "Payment received, thank you. 100 credits added; you now have 100 credits.",
            "innovator",
            "high",
            True,  # the next slot, not the best send time
            {"kind": "credit_purchase", "purchase_id": str(purchase["id"])},
        )
    ]


def test_a_buyer_who_opted_out_is_credited_without_a_receipt(client, db, stripe_standin):
    buyer = innovator(db)
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    db.execute("UPDATE users SET opted_out = true WHERE id = %s", [buyer])
    assert deliver(client, paid_event(stripe_standin, session_id)).get_json()["outcome"] == "credited"
    assert balance(db, buyer) == 100
    assert receipts(db, buyer) == []


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "unsigned"),
        ("t=1700000000,v1=" + "0" * 64, "forged"),
        ("garbage", "malformed"),
    ],
)
def test_bad_signatures_are_400_and_credit_nothing(client, db, stripe_standin, header, why):
    buyer = innovator(db)
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    payload = json.dumps(paid_event(stripe_standin, session_id))
    headers = {} if header is None else {"Stripe-Signature": header}
    response = client.post("/", data=payload, headers=headers, content_type="application/json")
    assert response.status_code == 400, why
    assert balance(db, buyer) == 0 and ledger(db, buyer) == []


def test_wrong_secret_and_replayed_events_credit_nothing(client, db, stripe_standin):
    buyer = innovator(db)
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    event = paid_event(stripe_standin, session_id)
    assert deliver(client, event, secret="whsec_attacker").status_code == 400
    assert deliver(client, event, t=int(time.time()) - 3600).status_code == 400  # outside the tolerance
    tampered = json.dumps(event)
    header = sign_payload(tampered, WEBHOOK_SECRET)
    altered = tampered.replace('"amount_total": 10000', '"amount_total": 1')
    response = client.post(
        "/", data=altered, headers={"Stripe-Signature": header}, content_type="application/json"
    )
    assert response.status_code == 400
    assert balance(db, buyer) == 0


def test_unknown_session_or_mismatched_amount_credit_nothing(client, db, stripe_standin):
    buyer = innovator(db)
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    unknown = paid_event(stripe_standin, session_id, id="cs_test_unknown")
    assert deliver(client, unknown).get_json()["outcome"] == "unknown_session"
    cheap = paid_event(stripe_standin, session_id, amount_total=100)
    assert deliver(client, cheap).get_json()["outcome"] == "mismatch"
    # Once refused, the purchase stays refused: a later matching event pays nothing either.
    assert deliver(client, paid_event(stripe_standin, session_id)).get_json()["outcome"] == "refused_before"
    assert balance(db, buyer) == 0
    row = db.execute("SELECT status, refused_reason FROM credit_purchases").fetchone()
    assert row["status"] == "refused" and "amount_total" in row["refused_reason"]


def test_someone_elses_client_reference_credits_nothing(client, db, stripe_standin):
    buyer = innovator(db)
    other = innovator(db, "+14155550111", "Other")
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    forged = paid_event(stripe_standin, session_id, client_reference_id=str(other))
    assert deliver(client, forged).get_json()["outcome"] == "mismatch"
    assert balance(db, buyer) == 0 and balance(db, other) == 0


def test_ignored_events_answer_2xx_fast(client, db, stripe_standin):
    buyer = innovator(db)
    session_id = funding(buyer, 100)["url"].rsplit("/", 1)[1]
    other = event_for({"id": "pi_123", "object": "payment_intent"}, "payment_intent.created")
    assert deliver(client, other).get_json()["outcome"] == "ignored"
    unpaid = event_for({**stripe_standin.sessions[session_id], "payment_status": "unpaid"})
    assert deliver(client, unpaid).get_json()["outcome"] == "unpaid"
    assert balance(db, buyer) == 0


def test_method_size_and_garbage(client, db):
    assert client.get("/").status_code == 405
    big = b"{" + b" " * STRIPE_WEBHOOK_MAX_BYTES + b"}"
    assert client.post("/", data=big, headers={"Stripe-Signature": "t=1,v1=x"}).status_code == 413
    for payload in (b"not json", b"[]", b'{"id": 1}', b"\xff\xfe"):
        signed = sign_payload(payload.decode("utf-8", "replace"), WEBHOOK_SECRET)
        assert client.post("/", data=payload, headers={"Stripe-Signature": signed}).status_code == 400


def test_the_standin_delivers_over_http(db, stripe_standin, database_url):
    """The stand-in's pay() posts the signed event like Stripe does (here to a real HTTP server)."""
    from werkzeug.serving import make_server

    app = functions_framework.create_app(  # type: ignore[no-untyped-call]
        "stripe_webhook", str(ROOT / "functions" / "stripe_webhook" / "main.py")
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serve_in_thread(server, "stripe-webhook")
    try:
        buyer = innovator(db)
        session_id = funding(buyer, 250)["url"].rsplit("/", 1)[1]
        result = stripe_standin.pay(
            session_id, times=3, webhook_url=f"http://127.0.0.1:{server.server_port}/"
        )
        assert result["statuses"] == [200, 200, 200]
        assert balance(db, buyer) == 250
    finally:
        server.shutdown()
