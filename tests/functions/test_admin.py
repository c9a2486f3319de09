"""The admin function through functions-framework: JSON operations behind an Authorization header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import functions_framework
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AUTH = {
    "Authorization": "Bearer operator-identity-token",
    "X-Goog-Authenticated-User-Email": "accounts.google.com:ops@example.test",
}


@pytest.fixture
def client(database_url: Any) -> Any:
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "admin", str(ROOT / "functions" / "admin" / "main.py")
    ).test_client()


@pytest.fixture
def pending_user(db: Any) -> Any:
    return db.execute(
        "INSERT INTO users (phone_number, first_name, last_name, company, title, email_verified,"
        " onboarding_completed_at, approval_status) VALUES ('+14155550100', 'Sarah', 'Chen', 'Globex', 'CTO',"
        " true, now(), 'pending') RETURNING id"
    ).fetchone()["id"]


def post(client: Any, body: Any, headers: Any = AUTH) -> Any:
    return client.post(
        "/",
        data=json.dumps(body) if not isinstance(body, bytes) else body,
        headers=headers,
        content_type="application/json",
    )


def test_without_authorization_nothing_happens(client, db, pending_user):
    assert post(client, {"action": "approve", "phone": "+14155550100"}, headers={}).status_code == 401
    assert client.get("/").status_code == 401
    assert db.execute("SELECT verified FROM users").fetchone()["verified"] is False


def test_pending_then_approve(client, db, pending_user):
    listed = client.get("/", headers=AUTH).get_json()["pending"]
    assert [p["id"] for p in listed] == [str(pending_user)]
    response = post(client, {"action": "approve", "phone": "+1 415 555 0100", "as": "innovator"})
    assert response.status_code == 200
    assert response.get_json()["poc_agent_type"] == "innovator"
    row = db.execute("SELECT verified, poc_agent_type FROM users").fetchone()
    assert (row["verified"], row["poc_agent_type"]) == (True, "innovator")
    log = db.execute(
        "SELECT input_data FROM agent_actions_log WHERE action_type = 'approval_approved'"
    ).fetchone()
    assert log["input_data"]["operator"] == "ops@example.test"
    assert post(client, {"action": "pending"}).get_json() == {"pending": []}


def test_hold_and_reject(client, db, pending_user):
    assert (
        post(client, {"action": "hold", "phone": "+14155550100"}).get_json()["approval_status"] == "on_hold"
    )
    assert (
        post(client, {"action": "reject", "phone": "+14155550100"}).get_json()["approval_status"]
        == "rejected"
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"nope", 400),
        ([1], 400),
        ({"action": "approve"}, 400),
        ({"action": "delete", "phone": "+14155550100"}, 400),
        ({"action": "approve", "phone": "+14155550100", "as": "admin"}, 400),
        ({"action": "approve", "phone": "+14155550999"}, 404),
        ({"action": "x", "pad": "y" * 5000}, 413),
    ],
)
def test_bad_requests(client, db, pending_user, body, status):
    assert post(client, body).status_code == status
    assert db.execute("SELECT verified FROM users").fetchone()["verified"] is False
