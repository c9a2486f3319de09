"""email_inbound through functions-framework: every accepted shape, and every refusal."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared import config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-email-secret"
DOMAIN = "verify.example.test"


@pytest.fixture
def client(database_url: Any, monkeypatch: Any) -> Any:
    monkeypatch.setenv("EMAIL_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", DOMAIN)
    config.reset_settings_cache()
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "email_inbound", str(ROOT / "functions" / "email_inbound" / "main.py")
    ).test_client()


@pytest.fixture
def user(db: Any) -> Any:
    row = db.execute(
        "INSERT INTO users (phone_number) VALUES ('+14155550100') RETURNING id, verification_token"
    )
    return row.fetchone()


def post(client: Any, body: Any, headers: Any = None, **kw: Any) -> Any:
    headers = {"X-Email-Webhook-Secret": SECRET} if headers is None else headers
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(
        "/", data=data, headers=headers, content_type=kw.pop("content_type", "application/json"), **kw
    )


def address(user: Any) -> Any:
    return f"verify-{user['verification_token']}@{DOMAIN}"


def state(db: Any, user: Any) -> Any:
    return db.execute(
        "SELECT email, email_verified, verified, poc_agent_type FROM users WHERE id = %s", [user["id"]]
    ).fetchone()


def shapes(user: Any) -> Any:
    to = address(user)
    sns_message = {
        "notificationType": "Received",
        "mail": {
            "source": "sarah@globex.com",
            "destination": [to],
            "commonHeaders": {"from": ["Sarah Chen <sarah@globex.com>"]},
        },
        "receipt": {"recipients": [to]},
    }
    return {
        "generic": {"to": f"Verify <{to}>", "from": "Sarah Chen <Sarah@Globex.com>"},
        "maileroo_envelope": {"recipients": [to], "envelope_sender": "sarah@globex.com"},
        "maileroo_headers": {"recipients": [to], "headers": {"From": ["Sarah Chen <sarah@globex.com>"]}},
        "ses_envelope": {"envelope": {"to": [to], "from": "sarah@globex.com"}},
        "sns_notification": {"Type": "Notification", "Message": json.dumps(sns_message)},
    }


@pytest.mark.parametrize(
    "shape", ["generic", "maileroo_envelope", "maileroo_headers", "ses_envelope", "sns_notification"]
)
def test_each_shape_verifies_the_sender(client, db, user, shape):
    response = post(client, shapes(user)[shape])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"outcome": "verified"}
    row = state(db, user)
    assert (row["email"], row["email_verified"]) == ("sarah@globex.com", True)
    assert (row["verified"], row["poc_agent_type"]) == (False, "bouncer")  # B10: never approval
    [message] = db.execute("SELECT * FROM messages WHERE user_id = %s", [user["id"]]).fetchall()
    assert (message["role"], message["direction"], message["status"], message["routed"]) == (
        "system",
        "inbound",
        "received",
        True,
    )
    assert json.loads(message["content"])["type"] == "email_verified_acknowledgment"
    [event] = db.execute("SELECT * FROM events WHERE event_type = 'user.email_verified'").fetchall()
    assert event["aggregate_id"] == user["id"]
    logged = db.execute("SELECT count(*) AS n FROM agent_actions_log WHERE action_type = 'email_verified'")
    assert logged.fetchone()["n"] == 1


def test_form_encoded_body_is_accepted(client, db, user):
    response = client.post(
        "/",
        data={"to": address(user), "from": "sarah@globex.com"},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert response.status_code == 200
    assert state(db, user)["email_verified"] is True


def test_basic_auth_secret_is_accepted(client, db, user):
    basic = base64.b64encode(f"maileroo:{SECRET}".encode()).decode()
    response = post(client, shapes(user)["generic"], headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200


def test_replay_is_idempotent_and_already_verified_changes_nothing(client, db, user):
    body = shapes(user)["generic"]
    assert post(client, body).status_code == 200
    again = post(client, body)
    assert again.status_code == 200 and again.get_json() == {"outcome": "already_verified"}
    other_sender = {"to": address(user), "from": "attacker@evil.example"}
    assert post(client, other_sender).get_json() == {"outcome": "already_verified"}
    assert state(db, user)["email"] == "sarah@globex.com"
    assert db.execute("SELECT count(*) AS n FROM messages").fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Email-Webhook-Secret": "wrong"}, 401),
        ({"Authorization": "Bearer nope"}, 401),
        ({"Authorization": "Basic !!!"}, 401),
    ],
)
def test_unsigned_or_wrong_secret_is_refused(client, db, user, headers, status):
    response = post(client, shapes(user)["generic"], headers=headers)
    assert response.status_code == status
    assert state(db, user)["email_verified"] is False


def test_no_token_is_400_and_unknown_token_is_404(client, db, user):
    assert post(client, {"to": f"hello@{DOMAIN}", "from": "a@b.com"}).status_code == 400
    assert post(client, {"to": f"verify-{'0' * 32}@{DOMAIN}", "from": "a@b.com"}).status_code == 404
    assert (
        post(
            client, {"to": f"verify-{user['verification_token']}@other.example", "from": "a@b.com"}
        ).status_code
        == 400
    )
    assert state(db, user)["email_verified"] is False


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1,2]",
        json.dumps({"subject": "hi"}),
        json.dumps({"to": "x", "from": "y"}),
        json.dumps({"Type": "Notification", "Message": "{bad"}),
        b"\xff\xfe",
    ],
)
def test_malformed_is_400(client, db, user, body):
    assert post(client, body).status_code == 400


def test_oversized_is_413_and_get_is_405(client, user):
    huge = json.dumps({"to": address(user), "from": "a@b.com", "text": "x" * 1_100_000})
    assert post(client, huge).status_code == 413
    assert client.get("/", headers={"X-Email-Webhook-Secret": SECRET}).status_code == 405


def test_missing_secret_configuration_fails_loudly(client, user, monkeypatch):
    monkeypatch.delenv("EMAIL_WEBHOOK_SECRET")
    config.reset_settings_cache()
    response = post(client, shapes(user)["generic"])
    assert response.status_code == 500
    assert "EMAIL_WEBHOOK_SECRET" in response.get_json()["error"]
