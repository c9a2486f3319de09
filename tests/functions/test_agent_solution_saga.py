"""agent_solution_saga through functions-framework with Pub/Sub-shaped CloudEvents: the research
request, the timeout task (a claimed task, completed in the same commit), redelivery and
malformed messages."""

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
from tests.backbone_support import unique_phone

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(database_url: Any, monkeypatch: Any) -> Any:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # the offline brain
    config.reset_settings_cache()
    return functions_framework.create_app(  # type: ignore[no-untyped-call]
        "agent_solution_saga", str(ROOT / "functions" / "agent_solution_saga" / "main.py")
    ).test_client()


def deliver(
    client: Any, body: Any, attributes: Any, message_id: str | None = None, raw: bytes | None = None
) -> Any:
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/test/topics/agent-solution-saga",
        },
        {
            "message": {
                "data": base64.b64encode(raw if raw is not None else json.dumps(body).encode()).decode(),
                "attributes": attributes,
                "messageId": message_id or uuid.uuid4().hex,
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": "projects/test/subscriptions/agent-solution-saga-push",
        },
    )
    headers, data = to_structured(event)
    return client.post("/", headers=headers, data=data)


def member(db: Any, first: str, expertise: list[str]) -> uuid.UUID:
    row = db.execute(
        "INSERT INTO users (phone_number, first_name, verified, poc_agent_type, expertise, timezone)"
        " VALUES (%s, %s, true, 'concierge', %s, 'Etc/UTC') RETURNING id",
        (unique_phone(), first, expertise),
    ).fetchone()
    return uuid.UUID(str(row["id"]))


def test_a_request_then_its_timeout_through_the_function(client: Any, db: Any) -> None:
    asker = member(db, "Maya", [])
    member(db, "Ana", ["payroll"])
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "event_type": "user.inquiry.solution_needed",
        "aggregate_type": "user",
        "aggregate_id": str(asker),
        "payload": {
            "user_id": str(asker),
            "request_description": "a payroll provider",
            "category": "payroll",
        },
        "user_id": str(asker),
    }
    attributes = {
        "kind": "event",
        "event_id": event_id,
        "event_type": body["event_type"],
        "attempt": "1",
        "user_id": str(asker),
    }
    for _ in range(2):
        response = deliver(client, body, attributes, message_id="m-1")
        assert response.status_code == 200, response.get_data(as_text=True)
    [workflow] = list(db.execute("SELECT * FROM solution_workflows"))
    assert workflow["current_step"] == "awaiting_expert_responses"
    [task] = list(db.execute("SELECT * FROM agent_tasks WHERE task_type = 'solution_workflow_timeout'"))

    token = uuid.uuid4()
    db.execute(
        "UPDATE agent_tasks SET status = 'processing', claim_token = %s,"
        " lease_expires_at = now() + interval '10 minutes' WHERE id = %s",
        (token, task["id"]),
    )
    task_body = {
        "event_type": "agent.task_ready",
        "task_id": str(task["id"]),
        "task_type": "solution_workflow_timeout",
        "agent_type": "solution_saga",
        "user_id": str(asker),
        "context_id": str(workflow["id"]),
        "context_type": "solution_workflow",
        "context_json": task["context_json"],
        "claim_token": str(token),
    }
    task_attributes = {
        "kind": "task",
        "task_id": str(task["id"]),
        "task_type": "solution_workflow_timeout",
        "claim_token": str(token),
        "attempt": "1",
        "user_id": str(asker),
    }
    assert deliver(client, task_body, task_attributes).status_code == 200

    done = db.execute("SELECT status, result_json FROM agent_tasks WHERE id = %s", (task["id"],)).fetchone()
    assert done["status"] == "completed" and done["result_json"]["status"] == "completed"
    finished = db.execute("SELECT status, current_step FROM solution_workflows").fetchone()
    assert (finished["status"], finished["current_step"]) == ("completed", "complete")


def test_malformed_messages_are_acknowledged_and_dead_lettered(client: Any, db: Any) -> None:
    response = deliver(client, None, {"kind": "event"}, raw=b"\xff not json")
    assert response.status_code == 200
    bad = {
        "event_id": str(uuid.uuid4()),
        "event_type": "user.inquiry.solution_needed",
        "payload": {"user_id": "x"},
    }
    attributes = {
        "kind": "event",
        "event_id": bad["event_id"],
        "event_type": bad["event_type"],
        "attempt": "1",
    }
    assert deliver(client, bad, attributes).status_code == 200
    letters = [r["error_message"] for r in db.execute("SELECT error_message FROM event_dead_letters")]
    assert len(letters) == 2 and any("needs a user_id" in e for e in letters)
    assert list(db.execute("SELECT id FROM solution_workflows")) == []
