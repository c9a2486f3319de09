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


@pytest.mark.parametrize("poc", ["concierge", "innovator"])
def test_a_system_reengagement_check_is_consumed_by_the_members_point_of_contact(database_url, db, poc):
    """The sweeper's agent.task_ready for a system re_engagement_check reaches the member's own agent,
    which queues the structured message and completes the task: no dead letter."""
    import uuid

    from shared.routing import route_task
    from tests.functions.test_agent_bouncer import deliver as deliver_task

    config.reset_settings_cache()
    client = app(f"agent_{poc}")
    user_id = member_with_text(db, poc, "hello")
    db.execute("UPDATE messages SET created_at = now() - interval '30 days' WHERE user_id = %s", [user_id])
    item = uuid.uuid4()
    db.execute(
        "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id, value_score, item_summary)"
        " VALUES (%s, 1, 'intro_opportunity', %s, 95, 'Intro Pat Lee at Globex')",
        [user_id, item],
    )
    claim = uuid.uuid4()
    task_id = db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, user_id, status, claim_token, lease_expires_at,"
        " context_json, created_by, dedupe_key) VALUES ('re_engagement_check', 'system', %s, 'processing',"
        " %s, now() + interval '10 minutes', '{\"reason\": \"new_priority\"}', 'test', %s) RETURNING id",
        [user_id, claim, f"re_engagement_check:{user_id}:test"],
    ).fetchone()["id"]
    assert route_task("system", "re_engagement_check", True, poc).function == f"agent_{poc}"
    body = {
        "task_id": str(task_id),
        "task_type": "re_engagement_check",
        "agent_type": "system",
        "user_id": str(user_id),
        "context_json": {"reason": "new_priority"},
        "claim_token": str(claim),
    }
    attributes = {
        "kind": "task",
        "task_id": str(task_id),
        "task_type": "re_engagement_check",
        "claim_token": str(claim),
        "attempt": "1",
        "user_id": str(user_id),
    }
    assert deliver_task(client, body, attributes).status_code == 200
    [row] = db.execute("SELECT * FROM message_queue WHERE user_id = %s", [user_id]).fetchall()
    assert row["agent_id"] == f"{poc}_reengagement" and row["message_data"]["kind"] == "re_engagement"
    done = db.execute("SELECT status, result_json FROM agent_tasks WHERE id = %s", [task_id]).fetchone()
    assert done["status"] == "completed" and done["result_json"]["status"] == "queued"
    assert db.execute("SELECT count(*) AS n FROM event_dead_letters").fetchone()["n"] == 0
