"""The event dispatcher against real Postgres, with the in-memory publisher."""

import json
import threading

import pytest

from shared import routing
from shared.domain.constants import EVENT_MAX_PUBLISH_ATTEMPTS
from shared.service_layer.dispatch_events import dispatch_events
from tests.backbone_support import add_event, dead_letters, event_row, make_user
from tests.fakes.pubsub import FakePublisher

pytestmark = pytest.mark.integration


def test_message_for_an_unverified_user_is_published_to_the_bouncer_and_marked_processed(db):
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"message_id": "m1"})
    publisher = FakePublisher()

    report = dispatch_events(publisher)

    assert report.published == 1
    [(message_id, message)] = publisher.published
    assert message.topic == "agent-bouncer"
    assert message.ordering_key == str(user)
    assert message.attributes == {
        "kind": "event",
        "event_id": str(event_id),
        "event_type": "message.received",
        "attempt": "1",
        "user_id": str(user),
    }
    body = json.loads(message.data)
    assert body["event_id"] == str(event_id)
    assert body["payload"] == {"message_id": "m1"}
    row = event_row(db, event_id)
    assert row["processed"] is True
    assert row["processed_at"] is not None
    assert row["metadata"]["dispatch"]["message_id"] == message_id
    assert row["metadata"]["dispatch"]["topic"] == "agent-bouncer"


def test_user_is_found_through_payload_user_id_when_the_aggregate_is_not_a_user(db):
    user = make_user(db)
    row = db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload) "
        "VALUES ('message.received', 'message', gen_random_uuid(), %s::jsonb) RETURNING id",
        (json.dumps({"user_id": str(user)}),),
    ).fetchone()
    publisher = FakePublisher()
    dispatch_events(publisher)
    assert publisher.published[0][1].ordering_key == str(user)
    assert event_row(db, row["id"])["processed"] is True


def test_record_only_events_are_marked_processed_deliberately(db):
    user = make_user(db)
    event_id = add_event(db, "user.opted_out", user)
    publisher = FakePublisher()
    report = dispatch_events(publisher)
    assert report.record_only == 1
    assert publisher.published == []
    row = event_row(db, event_id)
    assert row["processed"] is True
    assert row["metadata"]["dispatch"]["outcome"] == "record_only"
    assert "no consumer by design" in row["metadata"]["dispatch"]["reason"]
    assert dead_letters(db) == []


def test_a_verified_members_text_goes_to_their_point_of_contact(db):
    for poc in ("concierge", "innovator"):
        add_event(db, "message.received", make_user(db, verified=True, poc=poc))
    publisher = FakePublisher()
    report = dispatch_events(publisher)
    assert report.published == 2 and report.dead_lettered == 0
    assert sorted(m.topic for _, m in publisher.published) == ["agent-concierge", "agent-innovator"]


def test_an_event_for_a_planned_consumer_is_dead_lettered_at_once_with_a_clear_error(db, monkeypatch):
    monkeypatch.setitem(routing.EVENT_ROUTES, "intro.requested", "intro")
    # Every agent is deployed now (issue 12): the Intro agent stands in for a planned one.
    monkeypatch.setitem(routing.PLANNED_CONSUMERS, "intro", routing.CONSUMERS["intro"])
    monkeypatch.delitem(routing.CONSUMERS, "intro")
    user = make_user(db, verified=True, poc="concierge")
    event_id = add_event(db, "intro.requested", user)
    report = dispatch_events(FakePublisher())
    assert report.dead_lettered == 1
    [dead] = dead_letters(db)
    assert dead["event_id"] == event_id
    assert dead["source"] == "dispatcher"
    assert "agent_intro" in dead["error_message"] and "not deployed" in dead["error_message"]
    row = event_row(db, event_id)
    assert row["processed"] is True
    assert row["metadata"]["dispatch"]["outcome"] == "dead_lettered"


def test_unknown_event_type_is_never_silently_processed(db):
    event_id = add_event(db, "something.unheard_of", None)
    dispatch_events(FakePublisher())
    [dead] = dead_letters(db)
    assert dead["event_id"] == event_id
    assert "no route for event type" in dead["error_message"]


def test_publish_failures_back_off_and_dead_letter_after_the_last_attempt(db):
    user = make_user(db)
    event_id = add_event(db, "message.received", user)
    publisher = FakePublisher(failing_topics={"agent-bouncer"})

    report = dispatch_events(publisher)
    assert report.retrying == 1
    row = event_row(db, event_id)
    assert row["processed"] is False
    assert row["attempts"] == 1
    assert "agent-bouncer" in row["last_error"]
    seconds = db.execute(
        "SELECT extract(epoch FROM next_attempt_at - now()) AS s FROM events WHERE id = %s", (event_id,)
    ).fetchone()["s"]
    assert 5 < seconds <= 10

    # Not due yet: a second run leaves it alone.
    assert dispatch_events(publisher).claimed == 0

    for attempt in range(2, EVENT_MAX_PUBLISH_ATTEMPTS + 1):
        db.execute("UPDATE events SET next_attempt_at = now() WHERE id = %s", (event_id,))
        dispatch_events(publisher)
        row = event_row(db, event_id)
        assert row["attempts"] == attempt
    assert row["processed"] is True
    [dead] = dead_letters(db)
    assert dead["retry_count"] == EVENT_MAX_PUBLISH_ATTEMPTS
    assert dead["topic"] == "agent-bouncer"
    assert dead["consumer"] == "agent_bouncer"
    assert "publish failed 5 times" in dead["error_message"]


def test_a_successful_retry_clears_the_error_and_carries_the_attempt_number(db):
    user = make_user(db)
    event_id = add_event(db, "message.received", user)
    dispatch_events(FakePublisher(failing_topics={"agent-bouncer"}))
    db.execute("UPDATE events SET next_attempt_at = now() WHERE id = %s", (event_id,))
    publisher = FakePublisher()
    dispatch_events(publisher)
    assert publisher.published[0][1].attributes["attempt"] == "2"
    row = event_row(db, event_id)
    assert row["processed"] is True
    assert row["last_error"] is None


def test_large_backlogs_are_drained_in_batches_oldest_first(db):
    user = make_user(db)
    db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_at) "
        "SELECT 'message.received', 'user', %s, jsonb_build_object('n', g), now() - (g || ' ms')::interval "
        "FROM generate_series(1, 120) AS g",
        (user,),
    )
    publisher = FakePublisher()
    report = dispatch_events(publisher, batch_size=50)
    assert report.batches == 3
    assert report.published == 120
    ns = [json.loads(m.data)["payload"]["n"] for _, m in publisher.published]
    assert ns == list(range(120, 0, -1))  # oldest (largest offset) first


def test_concurrent_dispatchers_never_publish_the_same_event_twice(db):
    user = make_user(db)
    db.execute(
        "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload) "
        "SELECT 'message.received', 'user', %s, jsonb_build_object('n', g) FROM generate_series(1, 400) AS g",
        (user,),
    )
    publisher = FakePublisher()
    errors = []

    def run():
        try:
            dispatch_events(publisher, batch_size=25)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [m.attributes["event_id"] for _, m in publisher.published]
    assert len(ids) == 400
    assert len(set(ids)) == 400
    assert db.execute("SELECT count(*) AS n FROM events WHERE NOT processed").fetchone()["n"] == 0
