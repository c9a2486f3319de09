"""Dead letters: the recorder, and replay of event and task dead letters."""

import json
from typing import Any

import pytest

from shared import routing
from shared.adapters.postgres import connect
from shared.adapters.pubsub import OutboundMessage
from shared.adapters.repositories import NewDeadLetter
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.dead_letters import ReplayError, replay_all, replay_dead_letter
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.sweep_tasks import sweep_tasks
from tests.backbone_support import (
    add_event,
    add_task,
    dead_letters,
    event_row,
    function_app,
    make_user,
    push_body,
    task_row,
)
from tests.fakes.pubsub import FakePublisher

pytestmark = pytest.mark.integration

RECORDER_SOURCE = str(
    __import__("pathlib").Path(__file__).resolve().parents[2]
    / "functions"
    / "dead_letter_recorder"
    / "main.py"
)


@pytest.fixture
def uow(database_url):
    with connect(database_url) as conn, PostgresUnitOfWork(conn) as unit_of_work:
        yield unit_of_work


def _recorder() -> Any:
    return function_app("dead_letter_recorder", RECORDER_SOURCE).test_client()


# An event of a planned (not deployed) agent: the Intro agent's, routed to it for these tests.
PLANNED_EVENT = "intro.requested"


@pytest.fixture(autouse=True)
def _planned_route(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(routing.EVENT_ROUTES, PLANNED_EVENT, "intro")
    # Every agent is deployed now (issue 12): the Intro agent stands in for a planned one.
    monkeypatch.setitem(routing.PLANNED_CONSUMERS, "intro", routing.CONSUMERS["intro"])
    monkeypatch.delitem(routing.CONSUMERS, "intro")


def _unroutable_event(db: Any) -> Any:
    user = make_user(db, verified=True, poc="concierge")
    event_id = add_event(db, PLANNED_EVENT, user, {"question": "for the community"})
    dispatch_events(FakePublisher())
    [dead] = dead_letters(db)
    return user, event_id, dead


def test_an_unroutable_event_becomes_a_dead_letter_and_replays_once_its_consumer_exists(db, uow, monkeypatch):
    user, event_id, dead = _unroutable_event(db)

    # The Intro agent's function lands.
    monkeypatch.setitem(routing.CONSUMERS, "intro", routing.PLANNED_CONSUMERS["intro"])
    result = replay_dead_letter(uow, dead["id"])
    uow.commit()

    assert result.action == "event_reinserted"
    new = event_row(db, result.target_id)
    assert new["processed"] is False
    assert new["metadata"]["replay_of"] == str(event_id)
    assert new["payload"] == {"question": "for the community"}
    assert (new["aggregate_type"], new["aggregate_id"]) == ("user", user)
    replayed = db.execute("SELECT * FROM event_dead_letters WHERE id = %s", (dead["id"],)).fetchone()
    assert replayed["replay_count"] == 1 and replayed["replayed_at"] is not None

    publisher = FakePublisher()
    assert dispatch_events(publisher).published == 1
    assert publisher.published[0][1].topic == "agent-intro"


def test_a_replayed_dead_letter_is_not_replayed_twice_unless_forced(db, uow):
    _, _, dead = _unroutable_event(db)
    replay_dead_letter(uow, dead["id"])
    uow.commit()
    with pytest.raises(ReplayError, match="already replayed"):
        replay_dead_letter(uow, dead["id"])
    uow.rollback()
    replay_dead_letter(uow, dead["id"], force=True)
    uow.commit()
    assert db.execute("SELECT replay_count FROM event_dead_letters").fetchone()["replay_count"] == 2


def test_a_task_dead_letter_replay_requeues_the_failed_task(db, uow):
    task = add_task(db, agent_type="intro", task_type="intro_followup")
    sweep_tasks(FakePublisher())
    assert task_row(db, task)["status"] == "failed"
    [dead] = dead_letters(db)

    result = replay_dead_letter(uow, dead["id"])
    uow.commit()

    assert (result.action, result.target_id) == ("task_requeued", task)
    row = task_row(db, task)
    assert (row["status"], row["retry_count"], row["claim_token"]) == ("pending", 0, None)
    with pytest.raises(ReplayError, match="not failed"):
        replay_dead_letter(uow, dead["id"], force=True)


def test_replay_all_replays_what_it_can_and_reports_the_rest(db, uow):
    _unroutable_event(db)
    add_event(db, "no.such_event", None)
    dispatch_events(FakePublisher())
    uow.dead_letters.record(
        NewDeadLetter(
            event_id=None,
            event_type="malformed",
            payload={},
            error_message="x",
            retry_count=0,
            original_created_at=None,
            source="consumer",
            consumer="agent_bouncer",
            source_message_id="agent_bouncer:1",
        )
    )
    done, refused = replay_all(uow)
    uow.commit()
    assert len(done) == 2
    assert len(refused) == 1 and "undecodable" in refused[0][1]
    done_again, _ = replay_all(uow)
    assert done_again == []


def test_unknown_dead_letter_id(db, uow):
    import uuid

    with pytest.raises(ReplayError, match="no dead letter"):
        replay_dead_letter(uow, uuid.uuid4())


def _dead_lettered_push(message: Any, message_id: str = "dl-1", count: str = "5") -> Any:
    body = push_body(
        message,
        message_id=message_id,
        subscription="projects/p/subscriptions/agent-bouncer-dead-letter-push",
    )
    body["message"]["attributes"].update(
        CloudPubSubDeadLetterSourceSubscription="agent-bouncer-push",
        CloudPubSubDeadLetterSourceDeliveryCount=count,
    )
    return body


def test_the_recorder_records_a_dead_lettered_event_once(db):
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"text": "x"})
    publisher = FakePublisher()
    dispatch_events(publisher)
    body = _dead_lettered_push(publisher.published[0][1])
    client = _recorder()
    assert client.post("/", json=body).status_code == 200
    assert client.post("/", json=body).status_code == 200
    [dead] = dead_letters(db)
    assert (dead["source"], dead["event_id"], dead["retry_count"]) == ("pubsub", event_id, 5)
    assert "5 delivery attempts" in dead["error_message"]


def test_the_recorder_fails_a_task_that_exhausted_its_deliveries(db):
    task = add_task(db)
    publisher = FakePublisher()
    sweep_tasks(publisher)
    assert _recorder().post("/", json=_dead_lettered_push(publisher.published[0][1])).status_code == 200
    assert task_row(db, task)["status"] == "failed"
    [dead] = dead_letters(db)  # one dead letter, not one from fail_task and one from the recorder
    assert dead["source"] == "pubsub" and dead["event_type"] == "agent.task_ready"
    assert dead["payload"]["task_id"] == str(task)


def test_the_recorder_records_even_very_old_and_malformed_messages(db):
    message = OutboundMessage(topic="x", data=b"not json", attributes={"kind": "event"})
    body = _dead_lettered_push(message, message_id="dl-bad")
    body["message"]["publishTime"] = "2020-01-01T00:00:00Z"
    assert _recorder().post("/", json=body).status_code == 200
    [dead] = dead_letters(db)
    assert dead["consumer"] == "dead_letter_recorder"
    assert dead["error_message"].startswith("malformed delivery")
    assert json.loads(dead["payload"]["raw"])["message"]["messageId"] == "dl-bad"


def test_a_dead_letter_of_hostile_input_is_written_without_its_nuls_and_once(db, uow):
    """Postgres text and jsonb cannot hold NUL: the letter keeps the rest of what arrived."""
    letter = NewDeadLetter(
        event_id=None,
        event_type="message.\x00received",
        payload={"raw": "a\x00b", "attributes": {"k\x00": ["v\x00", 1, None]}},
        error_message="malformed delivery: \x00",
        retry_count=0,
        original_created_at=None,
        source="consumer",
        topic="agent-\x00bouncer",
        consumer="agent_bouncer\x00",
        source_message_id="agent_bouncer:m\x00-1",
    )
    assert uow.dead_letters.record(letter) is not None
    assert uow.dead_letters.record(letter) is None  # the same message again: recorded once
    uow.commit()
    row = db.execute(
        "SELECT event_type, payload, error_message, topic, consumer, source_message_id"
        " FROM event_dead_letters"
    ).fetchone()
    assert dict(row) == {
        "event_type": "message.received",
        "payload": {"raw": "ab", "attributes": {"k": ["v", 1, None]}},
        "error_message": "malformed delivery: ",
        "topic": "agent-bouncer",
        "consumer": "agent_bouncer",
        "source_message_id": "agent_bouncer:m-1",
    }
