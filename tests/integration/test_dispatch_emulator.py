"""The backbone end to end on the real Pub/Sub emulator: outbox -> Pub/Sub -> push -> consumer."""

import base64
import json
import threading
import time
from typing import Any

import pytest

from shared.adapters.pubsub import GooglePublisher, OutboundMessage, get_publisher
from shared.routing import dead_letter_topic
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.sweep_tasks import sweep_tasks
from tests.backbone_support import (
    Receiver,
    add_event,
    dead_letters,
    event_row,
    handled_count,
    make_user,
    probe_and_recorder_app,
)
from tools.localstack.pubsub_emulator import ensure_topology

pytestmark = [pytest.mark.integration, pytest.mark.pubsub]


def _wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pushed(pubsub_emulator, database_url):
    receiver = Receiver(probe_and_recorder_app())
    with receiver.running():
        ensure_topology(pubsub_emulator.project, lambda consumer: f"{receiver.url}/{consumer.function}")
        yield receiver


def test_an_inserted_event_reaches_its_push_endpoint_through_the_emulator(db, pushed):
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"text": "hi"})

    report = dispatch_events(get_publisher())

    assert report.published == 1
    _wait_for(lambda: handled_count(db, event_id) == 1, what="the probe to handle the event")
    assert event_row(db, event_id)["processed"] is True
    [request] = pushed.requests
    assert request["path"] == "/agent_bouncer"
    message = json.loads(request["body"])["message"]
    assert message["attributes"]["event_id"] == str(event_id)
    assert json.loads(base64.b64decode(message["data"]))["payload"] == {"text": "hi"}


class CrashAfterPublish:
    """Publishes for real, then dies before the dispatcher can mark anything processed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def publish_all(self, messages: Any) -> Any:
        self.inner.publish_all(messages)
        raise RuntimeError("instance killed between publish and mark-processed")


def test_a_crash_between_publish_and_mark_processed_is_deduplicated_by_the_consumer(db, pushed):
    user = make_user(db)
    event_id = add_event(db, "message.received", user)

    with pytest.raises(RuntimeError, match="killed"):
        dispatch_events(CrashAfterPublish(get_publisher()))
    assert event_row(db, event_id)["processed"] is False  # the claim rolled back

    report = dispatch_events(get_publisher())  # the scheduler's sweep
    assert report.published == 1

    _wait_for(lambda: len(pushed.requests) >= 2, what="both deliveries")
    _wait_for(lambda: len(pushed.statuses) >= 2, what="both responses")
    assert all(status.startswith("200") for status in pushed.statuses)
    assert handled_count(db, event_id) == 1
    marks = db.execute("SELECT * FROM processed_deliveries").fetchall()
    assert [m["delivery_key"] for m in marks] == [f"event:{event_id}"]
    assert event_row(db, event_id)["processed"] is True


def test_a_dead_lettered_message_is_recorded_by_the_dead_letter_recorder(db, pushed):
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"text": "lost"})
    publisher = get_publisher()
    message = OutboundMessage(
        topic=dead_letter_topic("agent-bouncer"),
        data=json.dumps({"event_id": str(event_id), "payload": {"text": "lost"}}).encode(),
        attributes={
            "kind": "event",
            "event_id": str(event_id),
            "event_type": "message.received",
            "attempt": "1",
            "CloudPubSubDeadLetterSourceSubscription": "agent-bouncer-push",
            "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        },
    )
    [outcome] = publisher.publish_all([message])
    assert outcome.ok, outcome.error

    _wait_for(lambda: len(dead_letters(db)) == 1, what="the recorder")
    [dead] = dead_letters(db)
    assert dead["source"] == "pubsub"
    assert dead["event_id"] == event_id
    assert dead["retry_count"] == 5
    assert dead["consumer"] == "agent_bouncer" and dead["topic"] == "agent-bouncer"
    assert dead["payload"] == {"text": "lost"}
    assert dead["source_message_id"] == outcome.message_id


def test_four_concurrent_sweepers_publish_each_of_a_thousand_tasks_exactly_once(db, pubsub_emulator):
    from google.cloud import pubsub_v1

    project = pubsub_emulator.project
    publisher_admin = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher_admin.topic_path(project, "agent-bouncer")
    publisher_admin.create_topic(name=topic)
    subscription = subscriber.subscription_path(project, "count-everything")
    subscriber.create_subscription(request={"name": subscription, "topic": topic})

    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, priority, scheduled_for, context_json) "
        "SELECT 're_engagement_check', 'bouncer', 'medium', now() - interval '1 second', "
        "jsonb_build_object('n', g) FROM generate_series(1, 1000) AS g"
    )
    publishers = [GooglePublisher(project) for _ in range(4)]  # four sweeper instances
    reports, errors = [], []
    barrier = threading.Barrier(4)

    def run(publisher):
        try:
            barrier.wait()
            reports.append(sweep_tasks(publisher, batch_size=100))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in publishers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.published for r in reports) == 1000

    received: list[str] = []
    deadline = time.monotonic() + 60
    while len(received) < 1000 and time.monotonic() < deadline:
        response = subscriber.pull(request={"subscription": subscription, "max_messages": 500}, timeout=10)
        if response.received_messages:
            received += [m.message.attributes["task_id"] for m in response.received_messages]
            subscriber.acknowledge(
                request={
                    "subscription": subscription,
                    "ack_ids": [m.ack_id for m in response.received_messages],
                }
            )
    # Nothing more is waiting: every task was published exactly once.
    extra = subscriber.pull(request={"subscription": subscription, "max_messages": 100}, timeout=5)
    assert len(received) == 1000
    assert len(set(received)) == 1000
    assert list(extra.received_messages) == []
    for p in publishers:
        p.close()
    publisher_admin.stop()
    subscriber.close()
