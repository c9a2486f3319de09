from typing import Any

import pytest

from tests.sms_support import ACCOUNT_SID, FROM_NUMBER, app_client, configure, make_user, new_sid, twilio_post

pytestmark = pytest.mark.integration


@pytest.fixture
def client(database_url, monkeypatch):
    configure(monkeypatch)
    return app_client("twilio_status")


def sent_message(db: Any, status: str = "queued") -> tuple[Any, str, Any]:
    user_id, conversation_id = make_user(db)
    sid = new_sid()
    row = db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status,"
        " twilio_message_sid,"
        " sent_at) VALUES (%s, %s, 'bouncer', 'hi', 'outbound', %s, %s, now()) RETURNING id",
        (conversation_id, user_id, status, sid),
    ).fetchone()
    return row["id"], sid, user_id


def callback(sid: str, status: str, **extra: str) -> dict[str, str]:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": FROM_NUMBER,
        "To": "+14155550123",
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
    }
    params.update(extra)
    return params


def row(db: Any, message_id: Any) -> Any:
    return db.execute("SELECT * FROM messages WHERE id = %s", (message_id,)).fetchone()


def test_statuses_move_forward_to_delivered(client, db):
    message_id, sid, _ = sent_message(db)
    assert twilio_post(client, callback(sid, "sent")).status_code == 200
    assert row(db, message_id)["status"] == "sent"
    assert twilio_post(client, callback(sid, "delivered")).status_code == 200
    delivered = row(db, message_id)
    assert delivered["status"] == "delivered"
    assert delivered["delivered_at"] is not None


def test_replay_and_backward_moves_change_nothing(client, db):
    message_id, sid, _ = sent_message(db)
    twilio_post(client, callback(sid, "delivered"))
    first = row(db, message_id)
    for status in ("delivered", "sent", "queued", "failed"):
        response = twilio_post(client, callback(sid, status))
        assert response.status_code == 200
    after = row(db, message_id)
    assert after["status"] == "delivered"
    assert after["delivered_at"] == first["delivered_at"]
    assert after["error_code"] is None


def test_late_sent_after_delivered_is_ignored_but_undelivered_records_the_error(client, db):
    message_id, sid, _ = sent_message(db, status="sent")
    response = twilio_post(
        client, callback(sid, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable")
    )
    assert response.status_code == 200
    failed = row(db, message_id)
    assert failed["status"] == "undelivered"
    assert failed["error_code"] == 30003
    assert failed["error_message"] == "Unreachable"
    assert failed["delivered_at"] is None


def test_failed_with_21610_opts_the_user_out(client, db):
    message_id, sid, user_id = sent_message(db)
    twilio_post(client, callback(sid, "failed", ErrorCode="21610"))
    assert row(db, message_id)["status"] == "failed"
    assert db.execute("SELECT opted_out FROM users WHERE id = %s", (user_id,)).fetchone()["opted_out"] is True
    assert (
        db.execute("SELECT count(*) AS n FROM events WHERE event_type = 'user.opted_out'").fetchone()["n"]
        == 1
    )


def test_unknown_sid_is_acknowledged_and_ignored(client, db):
    message_id, _, _ = sent_message(db)
    response = twilio_post(client, callback(new_sid(), "delivered"))
    assert response.status_code == 200
    assert row(db, message_id)["status"] == "queued"


def test_inbound_statuses_are_ignored(client, db):
    message_id, sid, _ = sent_message(db)
    assert twilio_post(client, callback(sid, "received")).status_code == 200
    assert row(db, message_id)["status"] == "queued"


def test_bad_signature_is_403_and_changes_nothing(client, db):
    message_id, sid, _ = sent_message(db)
    response = twilio_post(client, callback(sid, "delivered"), token="wrong-token")
    assert response.status_code == 403
    assert row(db, message_id)["status"] == "queued"
    unsigned = client.post(
        "/", data=callback(sid, "delivered"), content_type="application/x-www-form-urlencoded"
    )
    assert unsigned.status_code == 403
    assert row(db, message_id)["status"] == "queued"


@pytest.mark.parametrize(
    "params",
    [
        {"MessageSid": new_sid()},  # no status
        {"MessageStatus": "delivered"},  # no sid
        {"MessageSid": "SMnope", "MessageStatus": "delivered"},
        {"MessageSid": new_sid(), "MessageStatus": "exploded"},
        {"MessageSid": new_sid(), "MessageStatus": "failed", "ErrorCode": "abc"},
    ],
)
def test_malformed_callbacks_are_400(client, db, params):
    message_id, _, _ = sent_message(db)
    response = twilio_post(client, params)
    assert response.status_code == 400
    assert row(db, message_id)["status"] == "queued"


def test_wrong_method_and_content_type(client):
    assert client.get("/").status_code == 405
    assert client.post("/", json={"MessageStatus": "sent"}).status_code == 415
