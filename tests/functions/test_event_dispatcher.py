"""event_dispatcher through functions-framework: auth, bad input, and a real publish on the emulator."""

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from shared.adapters import webhook_signing
from tests.backbone_support import add_event, event_row, function_app, make_user

pytestmark = pytest.mark.integration

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "event_dispatcher" / "main.py")
SECRET = "test-signing-secret"
WEBHOOK_BODY = json.dumps({"table": "events", "type": "INSERT"}).encode()


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    return function_app("event_dispatcher", SOURCE).test_client()


def _post(
    client: Any, body: bytes, *, signature: str | None = None, content_type: str = "application/json"
) -> Any:
    headers = {webhook_signing.SIGNATURE_HEADER: signature or webhook_signing.sign(SECRET, body)}
    return client.post("/", data=body, headers=headers, content_type=content_type)


def test_unsigned_call_is_401_and_nothing_is_dispatched(client, db):
    event_id = add_event(db, "message.received", make_user(db))
    response = client.post("/", data=WEBHOOK_BODY, content_type="application/json")
    assert response.status_code == 401
    assert event_row(db, event_id)["processed"] is False


@pytest.mark.parametrize(
    "signature",
    [
        "t=1,v1=deadbeef",  # stale
        f"t={int(time.time())},v1=" + "0" * 64,  # wrong
        "garbage",
    ],
    ids=["stale", "wrong", "garbage"],
)
def test_bad_signatures_are_401(client, db, signature):
    assert _post(client, WEBHOOK_BODY, signature=signature).status_code == 401


def test_a_signature_over_another_body_is_401(client, db):
    other = webhook_signing.sign(SECRET, b'{"table": "events", "type": "DELETE"}')
    assert _post(client, WEBHOOK_BODY, signature=other).status_code == 401


def test_wrong_method_is_405(client, db):
    assert client.get("/").status_code == 405
    assert client.put("/", data=WEBHOOK_BODY).status_code == 405


def test_wrong_content_type_is_415(client, db):
    assert _post(client, WEBHOOK_BODY, content_type="text/plain").status_code == 415


def test_oversized_body_is_413(client, db):
    assert _post(client, b"{" + b" " * 70_000 + b"}").status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"table": "messages", "type": "INSERT"}',
        b'{"table": "events", "type": "DELETE"}',
        b'{"sweep": "yes please"}',
        b'{"table": "events", "type": "INSERT", "extra": 1}',
    ],
)
def test_malformed_or_foreign_bodies_are_400_after_the_signature_check(client, db, body):
    event_id = add_event(db, "message.received", make_user(db))
    assert _post(client, body).status_code == 400
    assert event_row(db, event_id)["processed"] is False


@pytest.mark.pubsub
def test_a_signed_webhook_dispatches_due_events(client, db, pubsub_emulator, caplog):
    from tools.localstack.pubsub_emulator import ensure_topology

    caplog.set_level(logging.INFO, logger="shared.service_layer.backlogs")

    ensure_topology(pubsub_emulator.project, lambda consumer: "http://127.0.0.1:9/unused")
    event_id = add_event(db, "message.received", make_user(db))
    response = _post(client, WEBHOOK_BODY)
    assert response.status_code == 200
    assert response.get_json()["trigger"] == "webhook"
    assert response.get_json()["published"] == 1
    assert event_row(db, event_id)["processed"] is True
    # the backlog line (the stale-backlog alert's data) comes from the scheduler's tick only:
    # a webhook per inserted event would add a count over every backlog to each event's path
    assert _backlog_lines(caplog) == []
    sweep = _post(client, b'{"sweep": true}')
    assert sweep.status_code == 200 and sweep.get_json() == {
        "trigger": "sweep",
        "claimed": 0,
        "published": 0,
        "record_only": 0,
        "retrying": 0,
        "dead_lettered": 0,
        "batches": 0,
    }
    assert _backlog_lines(caplog) == [("events", 0)]


def _backlog_lines(caplog: Any) -> list[tuple[str, int]]:
    return [(r.backlog, r.backlog_depth) for r in caplog.records if r.getMessage() == "backlog"]
