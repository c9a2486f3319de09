"""Database webhooks: yp_webhook() calls pg_net (when it exists and the target is configured) with
a signature that shared.adapters.webhook_signing accepts, byte for byte, and NOTIFYs on
'yp_webhook' only when pg_net did not take the call (the local stack's relay listens there)."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters import webhook_signing

pytestmark = pytest.mark.integration

SECRET = "test-signing-secret-" + "x" * 8


@pytest.fixture
def listener(database_url):
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute("LISTEN yp_webhook")
    conn.execute("LISTEN agent_events")
    try:
        yield conn
    finally:
        conn.close()


NOTIFY_WAIT = 5.0  # seconds a check that expects webhooks waits for them


def _drain(conn: psycopg.Connection, settle: float = 0.3, *, webhooks: int = 0) -> list[tuple[str, str]]:
    """Every notification delivered so far (the inserts already committed). With ``webhooks``,
    first waits up to ``NOTIFY_WAIT`` until that many ``yp_webhook`` notifications have come: on a
    loaded machine the listening backend can take longer than ``settle`` to pass one on. Then
    ``settle`` more, so one too many is still seen."""
    got: list[tuple[str, str]] = []
    if webhooks:
        for n in conn.notifies(timeout=NOTIFY_WAIT):
            got.append((n.channel, n.payload))
            if sum(channel == "yp_webhook" for channel, _ in got) >= webhooks:
                break
    return got + [(n.channel, n.payload) for n in conn.notifies(timeout=settle)]


def _webhooks(conn, expect: int = 0) -> list[Any]:
    """The ``yp_webhook`` payloads delivered so far, after waiting for ``expect`` of them."""
    return [json.loads(p) for c, p in _drain(conn, webhooks=expect) if c == "yp_webhook"]


def _user_and_conversation(db) -> tuple[Any, Any]:
    user = db.execute("INSERT INTO users (phone_number) VALUES ('+14155550160') RETURNING id").fetchone()[
        "id"
    ]
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, '+14155550160') RETURNING id", (user,)
    ).fetchone()["id"]
    return user, conv


def _message(db, user: Any, conv: Any, direction: str, status: str) -> Any:
    return db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) "
        "VALUES (%s, %s, %s, 'hello', %s, %s) RETURNING id",
        (conv, user, "concierge" if direction == "outbound" else "user", direction, status),
    ).fetchone()["id"]


def test_outbound_pending_message_notifies_sms_sender(db, listener):
    user, conv = _user_and_conversation(db)
    _drain(listener)

    message_id = _message(db, user, conv, "outbound", "pending")

    assert _webhooks(listener, expect=1) == [
        {
            "target": "sms_sender",
            "body": {"table": "messages", "type": "INSERT", "record_id": str(message_id)},
        }
    ]


@pytest.mark.parametrize(("direction", "status"), [("inbound", "received"), ("outbound", "blocked")])
def test_other_messages_do_not_notify(db, listener, direction, status):
    user, conv = _user_and_conversation(db)
    _drain(listener)
    _message(db, user, conv, direction, status)
    assert _webhooks(listener) == []


def test_events_notify_the_dispatcher_once_per_statement(db, listener):
    db.execute(
        "INSERT INTO events (event_type, payload) SELECT 'bulk.test', jsonb_build_object('n', g) "
        "FROM generate_series(1, 200) g"
    )
    drained = _drain(listener, webhooks=1)
    hooks = [json.loads(p) for c, p in drained if c == "yp_webhook"]
    assert hooks == [{"target": "event_dispatcher", "body": {"table": "events", "type": "INSERT"}}]
    # No per-event NOTIFY: nothing listened on 'agent_events' (migration 20261204160000).
    assert [c for c, _p in drained if c == "agent_events"] == []
    assert db.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'on_event_created'").fetchone() is None

    trigger = db.execute("SELECT tgtype FROM pg_trigger WHERE tgname = 'yp_webhook_events_insert'").fetchone()
    assert trigger["tgtype"] & 1 == 0, "the events webhook trigger must be FOR EACH STATEMENT"


def test_an_empty_insert_statement_does_not_notify(db, listener):
    db.execute("INSERT INTO events (event_type, payload) SELECT 'x', '{}' WHERE false")
    assert _webhooks(listener) == []


def test_due_task_notifies_sweeper_future_task_does_not(db, listener):
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, scheduled_for) VALUES ('t', 'bouncer', "
        "now() + interval '1 hour')"
    )
    assert _webhooks(listener) == []
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type) SELECT 't', 'bouncer' FROM generate_series(1, 5)"
    )
    assert _webhooks(listener, expect=1) == [
        {"target": "task_sweeper", "body": {"table": "agent_tasks", "type": "INSERT"}}
    ]


def test_due_queued_message_notifies_orchestrator_future_one_does_not(db, listener):
    user, _ = _user_and_conversation(db)
    db.execute(
        "INSERT INTO message_queue (user_id, agent_id, scheduled_for) VALUES (%s, 'concierge', "
        "now() + interval '2 hours')",
        (user,),
    )
    assert _webhooks(listener) == []
    db.execute("INSERT INTO message_queue (user_id, agent_id) VALUES (%s, 'concierge')", (user,))
    assert _webhooks(listener, expect=1) == [
        {"target": "message_orchestrator", "body": {"table": "message_queue", "type": "INSERT"}}
    ]


def test_notify_body_is_byte_identical_to_the_signed_body(db, listener):
    """A relay that re-serialises the notified body with json.dumps signs the same bytes."""
    user, conv = _user_and_conversation(db)
    _drain(listener)
    message_id = _message(db, user, conv, "outbound", "pending")
    (payload,) = [p for c, p in _drain(listener, webhooks=1) if c == "yp_webhook"]
    sql_body = db.execute(
        "SELECT jsonb_build_object('table', 'messages', 'type', 'INSERT', 'record_id', %s::text)::text AS t",
        (str(message_id),),
    ).fetchone()["t"]
    assert sql_body in payload
    assert json.dumps(json.loads(payload)["body"], ensure_ascii=False) == sql_body


def test_unknown_target_is_refused(db):
    with pytest.raises(psycopg.errors.RaiseException):
        db.execute("SELECT yp_webhook('somewhere_else', '{}'::jsonb)")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    secret=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    body=st.text(max_size=200).filter(lambda s: "\x00" not in s),
    ts=st.integers(min_value=0, max_value=2**40),
)
def test_signature_sql_matches_python_byte_for_byte(db, secret, body, ts):
    row = db.execute("SELECT yp_webhook_signature(%s, %s, %s) AS sig", (secret, ts, body)).fetchone()
    assert row["sig"] == webhook_signing.sign(secret, body.encode(), ts)


# --- the pg_net path, with a stand-in net.http_post that records its calls -----------------------


@pytest.fixture
def fake_pg_net(db):
    db.execute("CREATE SCHEMA net")
    db.execute("CREATE TABLE net.calls (url text, body jsonb, body_text text, headers jsonb, timeout_ms int)")
    db.execute(
        """
        CREATE FUNCTION net.http_post(
          url text, body jsonb DEFAULT '{}'::jsonb, params jsonb DEFAULT '{}'::jsonb,
          headers jsonb DEFAULT '{}'::jsonb, timeout_milliseconds int DEFAULT 5000)
        RETURNS bigint LANGUAGE plpgsql AS $$
        BEGIN
          IF url LIKE '%%/explode' THEN
            RAISE EXCEPTION 'pg_net is unhappy';
          END IF;
          -- pg_net sends convert_to(body::text, 'UTF8'): record exactly that text.
          INSERT INTO net.calls VALUES (url, body, body::text, headers, timeout_milliseconds);
          RETURN 1;
        END;
        $$
        """
    )
    return db


def _configure(db, **values: str) -> None:
    for key, value in values.items():
        db.execute(
            "INSERT INTO app_settings (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def test_pg_net_call_is_signed_from_app_settings(fake_pg_net, listener):
    db = fake_pg_net
    _configure(
        db,
        **{"webhook.signing_secret": SECRET, "webhook.sms_sender_url": "https://sms-sender.example.test/"},
    )
    user, conv = _user_and_conversation(db)
    message_id = _message(db, user, conv, "outbound", "pending")

    calls = db.execute("SELECT * FROM net.calls").fetchall()
    assert len(calls) == 1
    call = calls[0]
    assert call["url"] == "https://sms-sender.example.test/"
    assert call["body"] == {"table": "messages", "type": "INSERT", "record_id": str(message_id)}
    assert call["headers"]["Content-Type"] == "application/json"
    header = call["headers"][webhook_signing.SIGNATURE_HEADER]
    webhook_signing.verify(SECRET, call["body_text"].encode(), header, now=time.time())
    with pytest.raises(webhook_signing.BadSignature):
        webhook_signing.verify("another-secret", call["body_text"].encode(), header, now=time.time())
    # pg_net took the call, so no NOTIFY: nothing listens in production, and a notifying
    # transaction takes a cluster-wide lock at commit.
    assert _webhooks(listener) == []


def test_pg_net_needs_both_url_and_secret_and_without_them_the_notify_stands_in(fake_pg_net, listener):
    db = fake_pg_net
    user, conv = _user_and_conversation(db)
    _drain(listener)
    first = _message(db, user, conv, "outbound", "pending")  # nothing configured
    _configure(db, **{"webhook.sms_sender_url": "https://sms-sender.example.test/"})
    second = _message(db, user, conv, "outbound", "pending")  # URL but no secret
    assert db.execute("SELECT count(*) AS n FROM net.calls").fetchone()["n"] == 0

    _configure(db, **{"webhook.signing_secret": SECRET})
    db.execute("INSERT INTO events (event_type, payload) VALUES ('x', '{}')")  # no dispatcher URL
    assert db.execute("SELECT count(*) AS n FROM net.calls").fetchone()["n"] == 0
    got = _webhooks(listener, expect=3)
    assert [(h["target"], h["body"].get("record_id")) for h in got] == [
        ("sms_sender", str(first)),
        ("sms_sender", str(second)),
        ("event_dispatcher", None),
    ]


def test_pg_net_failure_never_fails_the_insert_and_falls_back_to_notify(fake_pg_net, listener):
    db = fake_pg_net
    _configure(
        db,
        **{
            "webhook.signing_secret": SECRET,
            "webhook.event_dispatcher_url": "https://dispatcher.example.test/explode",
        },
    )
    _drain(listener)
    db.execute("INSERT INTO events (event_type, payload) VALUES ('user.verified', '{}')")
    assert db.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 1
    assert [h["target"] for h in _webhooks(listener, expect=1)] == ["event_dispatcher"]


def test_each_target_reads_its_own_url(fake_pg_net):
    db = fake_pg_net
    _configure(
        db,
        **{
            "webhook.signing_secret": SECRET,
            "webhook.event_dispatcher_url": "https://dispatcher.example.test/",
            "webhook.task_sweeper_url": "https://sweeper.example.test/",
            "webhook.message_orchestrator_url": "https://orchestrator.example.test/",
        },
    )
    user, _ = _user_and_conversation(db)
    db.execute("INSERT INTO events (event_type, payload) VALUES ('x', '{}')")
    db.execute("INSERT INTO agent_tasks (task_type, agent_type) VALUES ('t', 'bouncer')")
    db.execute("INSERT INTO message_queue (user_id, agent_id) VALUES (%s, 'concierge')", (user,))
    rows = db.execute("SELECT url, body FROM net.calls ORDER BY url").fetchall()
    assert [(r["url"], r["body"]["table"]) for r in rows] == [
        ("https://dispatcher.example.test/", "events"),
        ("https://orchestrator.example.test/", "message_queue"),
        ("https://sweeper.example.test/", "agent_tasks"),
    ]
