"""agent_account_manager through functions-framework with Pub/Sub-shaped CloudEvents (to_structured),
and the 6-hourly review job through task_sweeper."""

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
from shared.adapters import webhook_signing
from tests.account_manager_support import community_request, connection_request, live, member, snapshot

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret"


@pytest.fixture
def client(database_url: Any, monkeypatch: Any) -> Any:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # the offline brain scores
    config.reset_settings_cache()
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "agent_account_manager", str(ROOT / "functions" / "agent_account_manager" / "main.py")
    ).test_client()


def pubsub_event(body: Any, attributes: Any, message_id: str) -> Any:
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/test/topics/agent-account-manager",
        },
        {
            "message": {
                "data": base64.b64encode(json.dumps(body).encode()).decode(),
                "attributes": attributes,
                "messageId": message_id,
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": "projects/test/subscriptions/agent-account-manager-push",
        },
    )
    return to_structured(event)


def deliver(client: Any, body: Any, attributes: Any, message_id: str | None = None) -> Any:
    headers, data = pubsub_event(body, attributes, message_id or uuid.uuid4().hex)
    return client.post("/", headers=headers, data=data)


def claimed_task(db: Any, user: Any, task_type: str, context_id: Any) -> tuple[Any, Any]:
    token = uuid.uuid4()
    task = db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, user_id, context_id, context_type, status,"
        " claim_token,"
        " lease_expires_at, context_json) VALUES (%s, 'account_manager', %s, %s,"
        " 'community_request', 'processing',"
        " %s, now() + interval '10 minutes', %s) RETURNING id",
        (task_type, user, context_id, token, json.dumps({"requestId": str(context_id)})),
    ).fetchone()["id"]
    return task, token


def task_message(task: Any, token: Any, user: Any, task_type: str, context_id: Any) -> tuple[Any, Any]:
    body = {
        "event_type": "agent.task_ready",
        "task_id": str(task),
        "task_type": task_type,
        "agent_type": "account_manager",
        "user_id": str(user),
        "context_id": str(context_id),
        "context_type": "community_request",
        "context_json": {"requestId": str(context_id)},
        "claim_token": str(token),
    }
    attributes = {
        "kind": "task",
        "task_id": str(task),
        "task_type": task_type,
        "claim_token": str(token),
        "attempt": "1",
        "user_id": str(user),
    }
    return body, attributes


def test_community_request_available_becomes_a_priority_once_however_often_it_is_delivered(client, db):
    expert, asker = member(db, expertise=("finance",)), member(db, first="Sam")
    request = community_request(db, asker, [])
    task, token = claimed_task(db, expert, "community_request_available", request)
    body, attributes = task_message(task, token, expert, "community_request_available", request)

    for _ in range(3):  # Pub/Sub redelivering the same message
        response = deliver(client, body, attributes, message_id="m-1")
        assert response.status_code == 200, response.get_data(as_text=True)
    once = snapshot(db, expert)
    [row] = live(db, expert)
    assert (row["item_type"], row["item_id"], row["score_source"]) == (
        "community_request",
        request,
        "fallback",
    )
    done = db.execute("SELECT status, result_json FROM agent_tasks WHERE id = %s", (task,)).fetchone()
    assert done["status"] == "completed" and done["result_json"]["status"] == "ranked"
    marks = db.execute(
        "SELECT count(*) AS n FROM processed_deliveries WHERE consumer = 'agent_account_manager'"
    )
    assert marks.fetchone()["n"] == 1
    # The task scheduled again (a new claim: a new delivery) changes nothing.
    again, token2 = claimed_task(db, expert, "community_request_available", request)
    assert (
        deliver(
            client, *task_message(again, token2, expert, "community_request_available", request)
        ).status_code
        == 200
    )
    assert snapshot(db, expert) == once


def test_user_verified_event_ranks_the_new_members_list(client, db):
    ana, sam = member(db), member(db, first="Sam")
    connection_request(db, ana, sam, vouches=1)
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "event_type": "user.verified",
        "aggregate_type": "user",
        "aggregate_id": str(ana),
        "payload": {"userId": str(ana), "pocAgentType": "concierge"},
        "user_id": str(ana),
    }
    attributes = {"kind": "event", "event_id": event_id, "event_type": "user.verified", "attempt": "1"}
    assert deliver(client, body, attributes).status_code == 200
    [row] = live(db, ana)
    assert (row["item_type"], float(row["value_score"])) == ("connection_request", 80)


@pytest.mark.pubsub
def test_the_six_hourly_job_schedules_reviews_only_for_members_with_news(db, monkeypatch, pubsub_emulator):
    from tools.localstack.pubsub_emulator import ensure_topology

    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    config.reset_settings_cache()
    ensure_topology(pubsub_emulator.project, lambda consumer: "http://127.0.0.1:9/unused")
    quiet, busy = member(db), member(db, first="Ben")
    db.execute(
        "INSERT INTO account_manager_members (user_id, events_read_until) VALUES (%s, now())", (quiet,)
    )
    db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_by)"
        " VALUES ('message.received', 'user', %s, '{}', 'test')",
        (busy,),
    )
    sweeper = functions_framework.create_app(  # type: ignore[no-untyped-call]
        "task_sweeper", str(ROOT / "functions" / "task_sweeper" / "main.py")
    ).test_client()
    body = json.dumps({"job": "account_manager_review"}).encode()
    response = sweeper.post(
        "/",
        data=body,
        content_type="application/json",
        headers={webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(SECRET, body)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["reviews_scheduled"] == 1 and response.get_json()["published"] == 1
    [task] = db.execute("SELECT user_id, task_type, status FROM agent_tasks").fetchall()
    assert (task["user_id"], task["task_type"], task["status"]) == (
        busy,
        "account_manager_review",
        "processing",
    )
