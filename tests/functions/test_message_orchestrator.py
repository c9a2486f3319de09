"""message_orchestrator through functions-framework's test client, with real Postgres."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import functions_framework
import pytest

from shared import config
from shared.adapters import webhook_signing
from shared.adapters.postgres import Connection
from shared.domain.constants import WEBHOOK_MAX_BODY_BYTES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "orchestrator-test-secret"
TICK = {"sweep": True}
WEBHOOK = {"table": "message_queue", "type": "INSERT"}


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    config.reset_settings_cache()
    source = ROOT / "functions" / "message_orchestrator" / "main.py"
    app = functions_framework.create_app("message_orchestrator", str(source))  # type: ignore[no-untyped-call]
    return app.test_client()


def post(
    client: Any,
    payload: Any = None,
    *,
    raw: bytes | None = None,
    secret: str | None = SECRET,
    ts: int | None = None,
) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(secret, body, ts)} if secret else {}
    return client.post("/", data=body, content_type="application/json", headers=headers)


def due_row(db: Connection) -> UUID:
    """A user whose quiet hours are off (the function runs on the wall clock) and one due row."""
    user = db.execute(
        "INSERT INTO users (phone_number, timezone, verified, poc_agent_type)"
        " VALUES ('+14155550199', 'America/New_York', true, 'concierge') RETURNING id"
    ).fetchone()
    assert user is not None
    db.execute("INSERT INTO conversations (user_id, phone_number) VALUES (%s, '+14155550199')", (user["id"],))
    db.execute(
        "INSERT INTO user_message_budget (user_id, date, quiet_hours_enabled)"
        " VALUES (%s, '2000-01-01', false)",
        (user["id"],),
    )
    row = db.execute(
        "INSERT INTO message_queue (user_id, agent_id, final_message, scheduled_for, priority)"
        " VALUES (%s, 'concierge_1', 'Your intro is confirmed.', %s, 'high') RETURNING id",
        (user["id"], datetime.now(UTC) - timedelta(minutes=1)),
    ).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def status(db: Connection, qid: UUID) -> str:
    row = db.execute("SELECT status FROM message_queue WHERE id = %s", (qid,)).fetchone()
    assert row is not None
    return str(row["status"])


def outbound_count(db: Connection) -> int:
    row = db.execute("SELECT count(*) AS n FROM messages WHERE direction = 'outbound'").fetchone()
    assert row is not None
    return int(row["n"])


def test_signed_scheduler_tick_delivers_the_due_row(client: Any, db: Connection) -> None:
    qid = due_row(db)
    response = post(client, TICK)
    assert response.status_code == 200
    assert response.get_json()["trigger"] == "sweep"
    assert response.get_json()["sent_units"] == 1
    assert status(db, qid) == "sent"
    assert outbound_count(db) == 1


def test_signed_webhook_delivers_and_a_replay_sends_nothing_twice(client: Any, db: Connection) -> None:
    qid = due_row(db)
    body = json.dumps(WEBHOOK).encode()
    ts = int(time.time())
    first = post(client, raw=body, ts=ts)
    again = post(client, raw=body, ts=ts)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.get_json()["trigger"] == "webhook"
    assert again.get_json()["sent_units"] == 0
    assert status(db, qid) == "sent"
    assert outbound_count(db) == 1


@pytest.mark.parametrize(
    "secret_or_ts",
    [None, "some-other-secret", "stale"],
    ids=["unsigned", "wrong-secret", "stale-timestamp"],
)
def test_unauthenticated_calls_get_401_and_change_nothing(
    client: Any, db: Connection, secret_or_ts: str | None
) -> None:
    qid = due_row(db)
    if secret_or_ts == "stale":
        response = post(client, TICK, ts=int(time.time()) - 3600)
    else:
        response = post(client, TICK, secret=secret_or_ts)
    assert response.status_code == 401
    assert status(db, qid) == "queued"
    assert outbound_count(db) == 0


def test_signature_over_a_different_body_is_refused(client: Any, db: Connection) -> None:
    qid = due_row(db)
    header = webhook_signing.sign(SECRET, json.dumps(WEBHOOK).encode())
    response = client.post(
        "/",
        data=json.dumps(TICK).encode(),
        content_type="application/json",
        headers={webhook_signing.SIGNATURE_HEADER: header},
    )
    assert response.status_code == 401
    assert status(db, qid) == "queued"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"sweep": false}', b'{"table": "events", "type": "INSERT"}', b"[]", b"\xff"],
)
def test_malformed_signed_bodies_get_400_and_change_nothing(client: Any, db: Connection, raw: bytes) -> None:
    qid = due_row(db)
    response = post(client, raw=raw)
    assert response.status_code == 400
    assert status(db, qid) == "queued"


def test_wrong_method_content_type_and_size(client: Any, db: Connection) -> None:
    qid = due_row(db)
    assert client.get("/").status_code == 405
    body = json.dumps(TICK).encode()
    signed = {webhook_signing.SIGNATURE_HEADER: webhook_signing.sign(SECRET, body)}
    assert client.post("/", data=body, content_type="text/plain", headers=signed).status_code == 415
    huge = b'{"sweep": true, "pad": "' + b"x" * WEBHOOK_MAX_BODY_BYTES + b'"}'
    assert post(client, raw=huge).status_code == 413
    assert status(db, qid) == "queued"
