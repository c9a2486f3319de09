"""agent_concierge and agent_innovator through functions-framework with real Pub/Sub-shaped CloudEvents:
a verified member's text is consumed and answered, never dead-lettered for want of a consumer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared import config
from tests.functions.test_agent_bouncer import deliver, event_body, outbound

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def app(function: str) -> Any:
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        function, str(ROOT / "functions" / function / "main.py")
    ).test_client()


def member_with_text(db: Any, poc: str, text: str) -> Any:
    user_id = db.execute(
        "INSERT INTO users (phone_number, first_name, verified, email_verified, approval_status,"
        " poc_agent_type, innovator) VALUES ('+14155550100', 'Sarah', true, true, 'approved', %s, %s)"
        " RETURNING id",
        [poc, poc == "innovator"],
    ).fetchone()["id"]
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, '+14155550100') RETURNING id",
        [user_id],
    ).fetchone()["id"]
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) VALUES"
        " (%s, %s, 'user', %s, 'inbound', 'received')",
        [conv, user_id, text],
    )
    return user_id


@pytest.mark.parametrize("poc", ["concierge", "innovator"])
def test_a_members_text_is_answered_once_even_when_redelivered(database_url, db, poc):
    config.reset_settings_cache()
    client = app(f"agent_{poc}")
    user_id = member_with_text(db, poc, "Do you know anyone at Stripe?")
    body, attributes = event_body(user_id)
    assert deliver(client, body, attributes, message_id="m-1").status_code == 200
    assert deliver(client, body, attributes, message_id="m-2").status_code == 200
    assert outbound(db) == ["I'll get that question out to the network."]
    role = db.execute("SELECT role FROM messages WHERE direction = 'outbound'").fetchone()["role"]
    assert role == poc
    assert db.execute("SELECT count(*) AS n FROM event_dead_letters").fetchone()["n"] == 0
    [event] = db.execute("SELECT * FROM events WHERE event_type = 'community.request_needed'").fetchall()
    assert event["payload"]["requesting_user_id"] == str(user_id)
