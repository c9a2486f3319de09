"""The consumer contract through functions-framework, with real Postgres.

Deliveries arrive the two ways production sends them: a push subscription's raw JSON body
(converted to a CloudEvent by functions-framework) and an Eventarc structured CloudEvent.
"""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from shared.adapters.pubsub import OutboundMessage
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.sweep_tasks import sweep_tasks
from tests.backbone_support import (
    add_event,
    add_task,
    dead_letters,
    handled_count,
    make_user,
    probe_client,
    push_body,
    task_row,
)
from tests.fakes.pubsub import FakePublisher

pytestmark = pytest.mark.integration


def _published_event(db: Any, behaviour: str = "ok") -> Any:
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"behaviour": behaviour})
    publisher = FakePublisher()
    dispatch_events(publisher)
    return event_id, publisher.published[0][1]


def _processed(db: Any) -> Any:
    return db.execute("SELECT * FROM processed_deliveries ORDER BY processed_at").fetchall()


def test_a_raw_push_delivery_is_handled_once_and_its_redelivery_acknowledged(db):
    event_id, message = _published_event(db)
    client = probe_client()
    body = push_body(message)

    first = client.post("/", json=body)
    again = client.post("/", json=body)

    assert first.status_code == 200 and again.status_code == 200
    assert handled_count(db, event_id) == 1
    [mark] = _processed(db)
    assert (mark["consumer"], mark["delivery_key"], mark["outcome"]) == (
        "agent_bouncer",
        f"event:{event_id}",
        "handled",
    )


def test_a_republished_event_with_a_new_message_id_is_still_deduplicated(db):
    event_id, message = _published_event(db)
    client = probe_client()
    client.post("/", json=push_body(message, message_id="1"))
    client.post("/", json=push_body(message, message_id="2"))
    assert handled_count(db, event_id) == 1


def test_an_eventarc_structured_cloud_event_is_handled(db):
    event_id, message = _published_event(db)
    body = push_body(message)
    event = CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub.googleapis.com/projects/p/topics/agent-bouncer",
            "id": body["message"]["messageId"],
            "time": body["message"]["publishTime"],
        },
        body,
    )
    headers, data = to_structured(event)
    response = probe_client().post("/", headers=headers, data=data)
    assert response.status_code == 200
    assert handled_count(db, event_id) == 1


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.update(data="%%% not base64 %%%"),
        lambda m: m.update(data=base64.b64encode(b"[1, 2]").decode()),
        lambda m: m["attributes"].pop("kind"),
        lambda m: m["attributes"].update(event_id="not-a-uuid"),
        lambda m: m["attributes"].update(kind="gossip"),
        lambda m: m["attributes"].update(event_id="00000000-0000-0000-0000-000000000001"),
    ],
    ids=["not-base64", "not-an-object", "no-kind", "bad-id", "unknown-kind", "ids-disagree"],
)
def test_a_malformed_delivery_is_acknowledged_and_dead_lettered(db, mutate):
    event_id, message = _published_event(db)
    body = push_body(message, message_id="m-bad")
    mutate(body["message"])
    client = probe_client()
    assert client.post("/", json=body).status_code == 200
    assert client.post("/", json=body).status_code == 200  # redelivered: recorded once
    assert handled_count(db, event_id) == 0
    [dead] = dead_letters(db)
    assert dead["source"] == "consumer"
    assert dead["consumer"] == "agent_bouncer"
    assert dead["topic"] == "agent-bouncer"
    assert dead["error_message"].startswith("malformed delivery")
    assert _processed(db) == []


def test_a_body_that_is_not_a_pubsub_push_at_all_is_refused_by_the_framework(db):
    response = probe_client().post("/", json={"hello": "world"})
    assert response.status_code == 400
    assert dead_letters(db) == []


def test_a_delivery_older_than_the_maximum_age_becomes_a_dead_letter_with_the_reason(db):
    event_id, message = _published_event(db)
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat().replace("+00:00", "Z")
    client = probe_client()
    assert client.post("/", json=push_body(message, publish_time=old)).status_code == 200
    assert client.post("/", json=push_body(message, publish_time=old)).status_code == 200  # redelivered
    assert handled_count(db, event_id) == 0  # never handled...
    [dead] = dead_letters(db)  # ...and never silently lost: one dead letter, with the reason
    assert dead["event_id"] == event_id
    assert dead["source"] == "consumer"
    assert dead["consumer"] == "agent_bouncer"
    assert "too old" in dead["error_message"] and "EVENT_MAX_AGE" in dead["error_message"]
    assert dead["replayed_at"] is None
    [mark] = _processed(db)
    assert mark["outcome"] == "dead_lettered"  # not 'handled': only the handler's commit says that


def test_an_over_age_task_delivery_fails_its_task_with_the_reason(db):
    task_id, message = _published_task(db)
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat().replace("+00:00", "Z")
    assert probe_client().post("/", json=push_body(message, publish_time=old)).status_code == 200
    row = task_row(db, task_id)
    assert row["status"] == "failed"
    assert "too old" in row["error_log"]
    assert handled_count(db, task_id) == 0
    [dead] = dead_letters(db)
    assert dead["event_id"] == task_id


def test_a_transient_error_is_raised_so_pubsub_redelivers_and_nothing_is_kept(db):
    event_id, message = _published_event(db, behaviour="transient")
    response = probe_client().post("/", json=push_body(message))
    assert response.status_code == 500
    assert handled_count(db, event_id) == 0  # the handler's write rolled back
    assert _processed(db) == []
    assert dead_letters(db) == []


def test_a_permanent_error_rolls_back_the_work_and_dead_letters_once(db):
    event_id, message = _published_event(db, behaviour="permanent")
    client = probe_client()
    assert client.post("/", json=push_body(message)).status_code == 200
    assert client.post("/", json=push_body(message)).status_code == 200
    assert handled_count(db, event_id) == 0
    [dead] = dead_letters(db)
    assert dead["event_id"] == event_id
    assert dead["source"] == "consumer"
    assert dead["payload"] == {"behaviour": "permanent"}
    assert "can never work" in dead["error_message"]
    [mark] = _processed(db)
    assert mark["outcome"] == "dead_lettered"


def _published_task(db: Any, behaviour: str = "ok") -> Any:
    task_id = add_task(db)
    db.execute(
        "UPDATE agent_tasks SET context_json = %s::jsonb WHERE id = %s",
        (json.dumps({"behaviour": behaviour}), task_id),
    )
    publisher = FakePublisher()
    sweep_tasks(publisher)
    return task_id, publisher.published[0][1]


def test_a_task_delivery_completes_the_task_with_the_handlers_result(db):
    task_id, message = _published_task(db)
    client = probe_client()
    assert client.post("/", json=push_body(message, message_id="t1")).status_code == 200
    assert client.post("/", json=push_body(message, message_id="t1")).status_code == 200
    row = task_row(db, task_id)
    assert row["status"] == "completed"
    assert row["result_json"] == {"handled_by": "probe", "message_id": "t1"}
    assert handled_count(db, task_id) == 1


def test_a_transient_task_failure_becomes_a_b7_retry_and_is_acknowledged(db):
    task_id, message = _published_task(db, behaviour="transient")
    assert probe_client().post("/", json=push_body(message)).status_code == 200
    row = task_row(db, task_id)
    assert row["status"] == "pending"
    assert row["retry_count"] == 1
    assert "the probe was told to fail" in row["error_log"]
    assert handled_count(db, task_id) == 0


def test_a_permanent_task_failure_fails_the_task_with_a_dead_letter(db):
    task_id, message = _published_task(db, behaviour="permanent")
    assert probe_client().post("/", json=push_body(message)).status_code == 200
    assert task_row(db, task_id)["status"] == "failed"
    [dead] = dead_letters(db)
    assert dead["event_id"] == task_id and dead["source"] == "consumer"


def test_a_delivery_for_a_stale_claim_cannot_complete_the_task(db):
    task_id, message = _published_task(db)
    # The lease expired and the sweeper handed the task out again under a new claim.
    db.execute(
        "UPDATE agent_tasks SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (task_id,)
    )
    sweep_tasks(FakePublisher())
    db.execute("UPDATE agent_tasks SET scheduled_for = now() WHERE id = %s", (task_id,))
    sweep_tasks(FakePublisher())
    fresh = task_row(db, task_id)["claim_token"]

    assert probe_client().post("/", json=push_body(message)).status_code == 200

    row = task_row(db, task_id)
    assert row["status"] == "processing" and row["claim_token"] == fresh
    assert handled_count(db, task_id) == 0  # the stale worker's writes rolled back


def test_hostile_attributes_are_refused_without_running_the_handler(db):
    message = OutboundMessage(
        topic="agent-bouncer",
        data=json.dumps({"event_id": "x"}).encode(),
        attributes={"kind": "event", "event_id": "'; DROP TABLE events; --", "event_type": "x" * 5000},
    )
    assert probe_client().post("/", json=push_body(message)).status_code == 200
    [dead] = dead_letters(db)
    assert len(dead["event_type"]) <= 100
    assert db.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 0
