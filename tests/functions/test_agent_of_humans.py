"""agent_of_humans and community_closer through functions-framework: a Pub/Sub CloudEvent
(to_structured) routes a question once however often it is delivered; the signed hourly job
closes an expired request; unsigned or malformed job calls write nothing."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent, to_structured

from shared import bootstrap, config
from shared.adapters import webhook_signing
from tests.backbone_support import function_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret"


@pytest.fixture
def humans(database_url: Any) -> Any:
    config.reset_settings_cache()
    bootstrap.reset()
    return function_app(
        "agent_of_humans", str(ROOT / "functions" / "agent_of_humans" / "main.py")
    ).test_client()


@pytest.fixture
def closer(database_url: Any, monkeypatch: Any) -> Any:
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    config.reset_settings_cache()
    bootstrap.reset()
    return function_app(
        "community_closer", str(ROOT / "functions" / "community_closer" / "main.py")
    ).test_client()


def push(client: Any, body: dict[str, Any], attributes: dict[str, str], message_id: str) -> Any:
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/test/topics/agent-of-humans",
        },
        {
            "message": {
                "data": base64.b64encode(json.dumps(body).encode()).decode(),
                "attributes": attributes,
                "messageId": message_id,
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": "projects/test/subscriptions/agent-of-humans-push",
        },
    )
    headers, data = to_structured(event)
    return client.post("/", headers=headers, data=data)


def user(db: Any, phone: str, expertise: list[str]) -> Any:
    return db.execute(
        "INSERT INTO users (phone_number, first_name, verified, poc_agent_type, expertise, timezone)"
        " VALUES (%s, 'Pat', true, 'concierge', %s, 'Pacific/Kiritimati') RETURNING id",
        (phone, expertise),
    ).fetchone()["id"]


def test_a_request_is_routed_once_however_often_it_is_pushed(humans: Any, db: Any) -> None:
    asker = user(db, "+14155550170", [])
    # Kiritimati (UTC+14) with quiet hours 00:00-00:00: never quiet, whatever time the suite runs.
    expert = user(db, "+14155550171", ["pricing"])
    db.execute(
        "UPDATE users SET quiet_hours_start = '00:00', quiet_hours_end = '00:00' WHERE id = %s", (expert,)
    )
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "event_type": "community.request_needed",
        "aggregate_type": "user",
        "aggregate_id": str(asker),
        "payload": {
            "requesting_agent_type": "concierge",
            "requesting_user_id": str(asker),
            "question": "How do you price usage-based plans?",
            "category": "pricing",
            "expertise_needed": ["pricing"],
        },
        "user_id": str(asker),
    }
    attributes = {
        "kind": "event",
        "event_id": event_id,
        "event_type": "community.request_needed",
        "attempt": "1",
    }
    for message_id in ("m-1", "m-1", "m-2"):
        assert push(humans, body, attributes, message_id).status_code == 200
    [request] = db.execute("SELECT * FROM community_requests").fetchall()
    assert request["target_user_ids"] == [expert]
    tasks = db.execute(
        "SELECT user_id FROM agent_tasks WHERE task_type = 'community_request_available'"
    ).fetchall()
    assert [t["user_id"] for t in tasks] == [expert]


def test_the_hourly_job_closes_an_expired_request(closer: Any, db: Any) -> None:
    db.execute(
        "INSERT INTO community_requests (requesting_agent_type, question, created_at, expires_at)"
        " VALUES ('concierge', 'Old question', now() - interval '8 days', now() - interval '1 day')"
    )
    body = json.dumps({"job": "close_expired_requests"}).encode()
    assert closer.post("/", data=body, content_type="application/json").status_code == 401
    assert (
        closer.post(
            "/",
            data=b'{"job": "other"}',
            content_type="application/json",
            headers={webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(SECRET, b'{"job": "other"}')},
        ).status_code
        == 400
    )
    assert db.execute("SELECT status FROM community_requests").fetchone()["status"] == "open"
    response = closer.post(
        "/",
        data=body,
        content_type="application/json",
        headers={webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(SECRET, body)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["closed"] == {"expired": 1}
    assert response.get_json()["routed_late"] == {"examined": 0, "routed": 0, "experts": 0}
    assert db.execute("SELECT status FROM community_requests").fetchone()["status"] == "closed"
    [closed] = db.execute(
        "SELECT payload FROM events WHERE event_type = 'community.request_closed'"
    ).fetchall()
    assert closed["payload"]["closed_reason"] == "expired"
