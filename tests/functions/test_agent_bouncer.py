"""agent_bouncer through functions-framework with real Pub/Sub-shaped CloudEvents (to_structured)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from cloudevents.http import CloudEvent, to_structured

from shared import config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(database_url: Any, monkeypatch: Any) -> Any:
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", "verify.example.test")
    config.reset_settings_cache()
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "agent_bouncer", str(ROOT / "functions" / "agent_bouncer" / "main.py")
    ).test_client()


def pubsub_event(body: Any, attributes: Any, message_id: Any = None) -> Any:
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/test/topics/agent-bouncer",
        },
        {
            "message": {
                "data": base64.b64encode(json.dumps(body).encode()).decode(),
                "attributes": attributes,
                "messageId": message_id or uuid.uuid4().hex,
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": "projects/test/subscriptions/agent-bouncer",
        },
    )
    return to_structured(event)


def deliver(client: Any, body: Any, attributes: Any, message_id: Any = None) -> Any:
    headers, data = pubsub_event(body, attributes, message_id)
    return client.post("/", headers=headers, data=data)


@pytest.fixture
def user(db: Any) -> Any:
    user_id = db.execute("INSERT INTO users (phone_number) VALUES ('+14155550100') RETURNING id").fetchone()[
        "id"
    ]
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, '+14155550100') RETURNING id",
        [user_id],
    ).fetchone()["id"]
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) VALUES"
        " (%s, %s, 'user', 'hey', 'inbound', 'received')",
        [conv, user_id],
    )
    return user_id, conv


def event_body(user_id: Any, event_type: Any = "message.received") -> Any:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "event_type": event_type,
        "aggregate_type": "user",
        "aggregate_id": str(user_id),
        "payload": {"user_id": str(user_id)},
        "user_id": str(user_id),
    }
    attributes = {
        "kind": "event",
        "event_id": event_id,
        "event_type": event_type,
        "attempt": "1",
        "user_id": str(user_id),
    }
    return body, attributes


def outbound(db: Any) -> Any:
    return [
        r["content"]
        for r in db.execute(
            "SELECT content FROM messages WHERE direction = 'outbound' ORDER BY created_at"
        ).fetchall()
    ]


def test_message_received_gets_one_reply_even_when_redelivered(client, db, user):
    body, attributes = event_body(user[0])
    response = deliver(client, body, attributes, message_id="m-1")
    assert response.status_code == 200
    assert outbound(db) == ["Hey... who told you about this?"]
    assert deliver(client, body, attributes, message_id="m-1").status_code == 200
    other_copy = dict(attributes)
    assert deliver(client, body, other_copy, message_id="m-2").status_code == 200
    assert outbound(db) == ["Hey... who told you about this?"]


def test_followup_task_delivery_runs_and_completes_the_task(client, db, user):
    user_id, conv = user
    deliver(client, *event_body(user_id))
    task = db.execute("SELECT * FROM agent_tasks WHERE task_type = 're_engagement_check'").fetchone()
    claim = uuid.uuid4()
    db.execute(
        "UPDATE agent_tasks SET status = 'processing', claim_token = %s, lease_expires_at = now() +"
        " interval '10 minutes' WHERE id = %s",
        [claim, task["id"]],
    )
    body = {
        "task_id": str(task["id"]),
        "task_type": "re_engagement_check",
        "agent_type": "bouncer",
        "user_id": str(user_id),
        "context_id": str(conv),
        "context_type": "conversation",
        "context_json": task["context_json"],
        "claim_token": str(claim),
    }
    attributes = {
        "kind": "task",
        "task_id": str(task["id"]),
        "task_type": "re_engagement_check",
        "claim_token": str(claim),
        "attempt": "1",
        "user_id": str(user_id),
    }
    assert deliver(client, body, attributes).status_code == 200
    [followup] = db.execute("SELECT * FROM message_queue WHERE user_id = %s", [user_id]).fetchall()
    assert followup["final_message"].startswith("Should I close out this invite?")  # queued, not sent
    assert followup["requires_fresh_context"] and followup["message_data"]["kind"] == "followup"
    done = db.execute("SELECT status, result_json FROM agent_tasks WHERE id = %s", [task["id"]]).fetchone()
    assert done["status"] == "completed" and done["result_json"]["status"] == "answered"


def test_unknown_event_type_is_dead_lettered_not_retried(client, db, user):
    body, attributes = event_body(user[0], event_type="user.something_else")
    assert deliver(client, body, attributes).status_code == 200
    assert outbound(db) == []
    letter = db.execute("SELECT error_message FROM event_dead_letters").fetchone()
    assert "does not handle" in letter["error_message"]


def test_malformed_delivery_is_acknowledged_and_recorded(client, db, user):
    headers, data = pubsub_event({"x": 1}, {"kind": "event"})
    assert client.post("/", headers=headers, data=data).status_code == 200
    assert db.execute("SELECT count(*) AS n FROM event_dead_letters").fetchone()["n"] == 1
    assert outbound(db) == []


@pytest.fixture
def summarizer(database_url: Any) -> Any:
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "agent_summarizer", str(ROOT / "functions" / "agent_summarizer" / "main.py")
    ).test_client()


@pytest.mark.parametrize("poc", [None, "concierge", "innovator"])
def test_the_fiftieth_message_summary_task_is_handled_and_stored_whatever_the_poc(summarizer, db, user, poc):
    user_id, conv = user
    if poc is not None:  # an approved member: their point of contact is not the Bouncer
        db.execute("UPDATE users SET verified = true, poc_agent_type = %s WHERE id = %s", [poc, user_id])
    for n in range(49):  # the fixture's "hey" is the first of 50
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) VALUES"
            " (%s, %s, 'user', %s, 'inbound', 'received')",
            [conv, user_id, f"I'm looking for a CFO intro, take {n}"],
        )
    task = db.execute(
        "SELECT * FROM agent_tasks WHERE task_type = 'create_conversation_summary' AND user_id = %s",
        [user_id],
    ).fetchone()
    claim = uuid.uuid4()
    db.execute(
        "UPDATE agent_tasks SET status = 'processing', claim_token = %s, lease_expires_at = now() +"
        " interval '10 minutes' WHERE id = %s",
        [claim, task["id"]],
    )
    body = {
        "task_id": str(task["id"]),
        "task_type": "create_conversation_summary",
        "agent_type": "system",
        "user_id": str(user_id),
        "context_id": str(conv),
        "context_type": "conversation",
        "context_json": task["context_json"],
        "claim_token": str(claim),
    }
    attributes = {
        "kind": "task",
        "task_id": str(task["id"]),
        "task_type": "create_conversation_summary",
        "claim_token": str(claim),
        "attempt": "1",
        "user_id": str(user_id),
    }
    assert deliver(summarizer, body, attributes).status_code == 200
    stored = db.execute("SELECT conversation_summary FROM conversations WHERE id = %s", [conv]).fetchone()
    summary = stored["conversation_summary"]
    assert "looking for a CFO intro" in summary and len(summary.split()) <= 200
    done = db.execute("SELECT status, result_json FROM agent_tasks WHERE id = %s", [task["id"]]).fetchone()
    assert done["status"] == "completed" and done["result_json"] == {"status": "stored", "path": "extractive"}
    assert outbound(db) == []  # a summary never texts the user
    # one commit: the delivery's mark, the task's completion and the summary
    mark = db.execute(
        "SELECT outcome FROM processed_deliveries WHERE consumer = 'agent_summarizer' AND delivery_key = %s",
        [f"task:{task['id']}:{claim}"],
    ).fetchone()
    assert mark["outcome"] == "handled"
    assert deliver(summarizer, body, attributes).status_code == 200  # a redelivery changes nothing
    assert db.execute("SELECT count(*) AS n FROM event_dead_letters").fetchone()["n"] == 0
