from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from shared.adapters import webhook_signing
from tests.sms_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    WEBHOOK_SECRET,
    add_outbound,
    app_client,
    configure,
    internal_post,
    make_user,
)
from tools.fakes.twilio_api import start_in_thread
from tools.localstack.pgcluster import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def standin():
    server = start_in_thread(auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID)
    yield server
    server.stop()


@pytest.fixture
def callback_url():
    # Nothing listens here: the stand-in's status callbacks are refused, which the sender never sees.
    return f"http://127.0.0.1:{free_port()}/twilio_status"


@pytest.fixture
def client(database_url, monkeypatch, standin, callback_url):
    configure(monkeypatch, TWILIO_API_BASE_URL=standin.url, TWILIO_STATUS_CALLBACK_URL=callback_url)
    return app_client("sms_sender")


def webhook(message_id: Any) -> dict[str, str]:
    return {"table": "messages", "type": "INSERT", "record_id": str(message_id)}


def message(db: Any, message_id: Any) -> Any:
    return db.execute("SELECT * FROM messages WHERE id = %s", (message_id,)).fetchone()


def test_sends_a_pending_message_with_the_real_twilio_client(client, db, standin, callback_url):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["Welcome aboard — what's your name?"])

    response = internal_post(client, webhook(message_id))

    assert response.status_code == 200
    assert response.get_json() == {"results": [{"message_id": str(message_id), "outcome": "sent"}]}
    [sent] = standin.sent
    assert sent["to"] == "+14155550123"
    assert sent["from"] == FROM_NUMBER
    assert sent["body"] == "Welcome aboard — what's your name?"
    assert sent["status_callback"] == f"{callback_url}?message_id={message_id}"
    row = message(db, message_id)
    assert row["twilio_message_sid"] == sent["sid"]
    assert row["status"] == "queued"
    assert row["sent_at"] is not None
    assert row["num_segments"] == 1
    assert row["attempts"] == 1


def test_a_second_call_for_the_same_message_sends_nothing(client, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["once"])
    internal_post(client, webhook(message_id))
    again = internal_post(client, webhook(message_id))
    assert again.status_code == 200
    assert again.get_json()["results"][0]["outcome"] == "not_pending"
    assert len(standin.sent) == 1
    assert message(db, message_id)["attempts"] == 1


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "stale", "tampered"])
def test_unsigned_or_wrongly_signed_call_is_401_and_nothing_is_sent(client, db, standin, how):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["secret plans"])
    import json

    body = json.dumps(webhook(message_id)).encode()
    headers = {}
    if how == "wrong secret":
        headers[webhook_signing.SIGNATURE_HEADER] = webhook_signing.sign("not-the-secret", body)
    elif how == "stale":
        import time

        headers[webhook_signing.SIGNATURE_HEADER] = webhook_signing.sign(
            WEBHOOK_SECRET, body, int(time.time()) - 3600
        )
    elif how == "tampered":
        headers[webhook_signing.SIGNATURE_HEADER] = webhook_signing.sign(WEBHOOK_SECRET, body + b" ")
    response = client.post("/", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert standin.sent == []
    assert message(db, message_id)["status"] == "pending"


@pytest.mark.parametrize(
    ("payload", "raw", "status"),
    [
        (None, b"not json", 400),
        (None, b"[1, 2]", 400),
        ({"table": "events", "type": "INSERT", "record_id": str(uuid4())}, None, 400),
        ({"table": "messages", "type": "INSERT", "record_id": "not-a-uuid"}, None, 400),
        ({"table": "messages", "type": "INSERT"}, None, 400),
        ({"table": "messages", "type": "INSERT", "record_id": str(uuid4())}, None, 404),
    ],
)
def test_bad_bodies_get_clear_4xx(client, standin, payload, raw, status):
    response = internal_post(client, payload, raw=raw)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert standin.sent == []


def test_wrong_method_and_content_type(client):
    assert client.get("/").status_code == 405
    assert client.post("/", data="x=1", content_type="application/x-www-form-urlencoded").status_code == 415


def test_opted_out_user_is_blocked_and_never_sent(client, db, standin):
    user_id, conversation_id = make_user(db, opted_out=True)
    [message_id] = add_outbound(user_id, conversation_id, ["you should not see this"])
    response = internal_post(client, webhook(message_id))
    assert response.get_json()["results"][0]["outcome"] == "blocked"
    assert standin.sent == []
    row = message(db, message_id)
    assert row["status"] == "blocked"
    assert row["error_message"] == "recipient opted out"


def test_runaway_guard_blocks_the_eleventh_sms_in_ten_minutes(client, db, standin):
    user_id, conversation_id = make_user(db)
    for i in range(10):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, sent_at,"
            " created_at)"
            " VALUES (%s, %s, 'bouncer', %s, 'outbound', 'sent', now() - interval '5 minutes',"
            " now() - interval '5 minutes')",
            (conversation_id, user_id, f"earlier {i}"),
        )
    [message_id] = add_outbound(user_id, conversation_id, ["one too many"])
    response = internal_post(client, webhook(message_id))
    assert response.get_json()["results"][0]["outcome"] == "blocked"
    assert standin.sent == []
    row = message(db, message_id)
    assert row["status"] == "blocked"
    assert "runaway guard" in row["error_message"]


def test_runaway_guard_ignores_sends_older_than_the_window(client, db, standin):
    user_id, conversation_id = make_user(db)
    for i in range(10):
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, sent_at,"
            " created_at)"
            " VALUES (%s, %s, 'bouncer', %s, 'outbound', 'delivered', now() - interval '11 minutes',"
            " now() - interval '11 minutes')",
            (conversation_id, user_id, f"earlier {i}"),
        )
    [message_id] = add_outbound(user_id, conversation_id, ["fine"])
    assert internal_post(client, webhook(message_id)).get_json()["results"][0]["outcome"] == "sent"
    assert len(standin.sent) == 1


def test_twilio_21610_opts_the_user_out(client, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["hello?"])
    standin.fail(1, status=400, code=21610)
    response = internal_post(client, webhook(message_id))
    assert response.get_json()["results"][0]["outcome"] == "blocked"
    row = message(db, message_id)
    assert row["status"] == "blocked"
    assert row["error_code"] == 21610
    user = db.execute("SELECT opted_out, opted_out_at FROM users WHERE id = %s", (user_id,)).fetchone()
    assert user["opted_out"] is True
    event = db.execute("SELECT * FROM events WHERE event_type = 'user.opted_out'").fetchone()
    assert event["payload"]["source"] == "twilio_21610"


def test_other_client_errors_fail_at_once_without_retry(client, db, standin):
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["hello?"])
    standin.fail(1, status=400, code=21211)
    response = internal_post(client, webhook(message_id))
    assert response.get_json()["results"][0]["outcome"] == "failed"
    row = message(db, message_id)
    assert row["status"] == "failed"
    assert row["error_code"] == 21211
    assert row["attempts"] == 1
    assert standin.state.failures == []  # exactly one call was made


def test_body_over_1600_written_around_the_outbound_path_is_failed_not_cut(client, db, standin):
    user_id, conversation_id = make_user(db)
    row = db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status)"
        " VALUES (%s, %s, 'bouncer', %s, 'outbound', 'pending') RETURNING id",
        (conversation_id, user_id, "z" * 1700),
    ).fetchone()
    response = internal_post(client, webhook(row["id"]))
    assert response.get_json()["results"][0]["outcome"] == "failed"
    assert standin.sent == []
    assert "1600" in message(db, row["id"])["error_message"]


def test_sweep_delivers_stale_pending_messages_only(client, db, standin):
    user_id, conversation_id = make_user(db)
    [stale, fresh] = add_outbound(user_id, conversation_id, ["stale one"]) + add_outbound(
        user_id, conversation_id, ["fresh one"]
    )
    db.execute("UPDATE messages SET created_at = now() - %s WHERE id = %s", (timedelta(minutes=5), stale))
    response = internal_post(client, {"sweep": True})
    assert response.status_code == 200
    assert response.get_json() == {"results": [{"message_id": str(stale), "outcome": "sent"}]}
    assert [m["body"] for m in standin.sent] == ["stale one"]
    assert message(db, fresh)["status"] == "pending"


def test_unsigned_sweep_is_401(client, db, standin):
    response = internal_post(client, {"sweep": True}, secret=None)
    assert response.status_code == 401
