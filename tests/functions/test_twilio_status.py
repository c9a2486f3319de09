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


# --- a callback that overtakes the sender (Twilio answers, then calls back before we commit the SID) ---


def sending_message(db: Any) -> tuple[Any, Any]:
    """An outbound row the sender has claimed but whose Twilio SID it has not recorded yet."""
    user_id, conversation_id = make_user(db)
    row = db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, attempts)"
        " VALUES (%s, %s, 'bouncer', 'hi', 'outbound', 'sending', 1) RETURNING id",
        (conversation_id, user_id),
    ).fetchone()
    return row["id"], user_id


def test_a_callback_naming_its_message_records_the_sid_before_the_sender_does(client, db):
    message_id, _ = sending_message(db)
    sid = new_sid()
    response = twilio_post(client, callback(sid, "sent"), path=f"/twilio_status?message_id={message_id}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "applied"
    early = row(db, message_id)
    assert early["status"] == "sent"
    assert early["twilio_message_sid"] == sid


def test_the_sender_keeps_the_status_of_callbacks_that_overtook_it(client, db, monkeypatch):
    from shared.adapters.twilio_sms import SendResult
    from shared.service_layer.send_sms import SendOutcome, deliver_message
    from tests.fakes.sms import FakeSmsGateway
    from tests.sms_support import PUBLIC_BASE_URL, add_outbound

    class TwilioCallsBackFirst(FakeSmsGateway):
        """Twilio's 'sent' and 'delivered' callbacks reach us before its API answer does."""

        def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
            result = super().send(to=to, body=body, status_callback=status_callback)
            assert status_callback is not None and status_callback.startswith(PUBLIC_BASE_URL)
            path = status_callback[len(PUBLIC_BASE_URL) :]
            for status in ("sent", "delivered"):
                assert twilio_post(client, callback(result.sid, status), path=path).status_code == 200
            return result

    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["fast carrier"])
    gateway = TwilioCallsBackFirst()

    [report] = deliver_message(message_id, gateway=gateway, sleep=lambda _: None)

    assert report.outcome is SendOutcome.SENT
    [sent] = gateway.sent
    assert sent["status_callback"] == f"{PUBLIC_BASE_URL}/twilio_status?message_id={message_id}"
    final = row(db, message_id)
    assert final["twilio_message_sid"] == sent["sid"]
    assert final["status"] == "delivered"  # not moved back to the API answer's 'queued'
    assert final["delivered_at"] is not None
    assert final["sent_at"] is not None
    assert final["num_segments"] == 1


def test_a_message_id_cannot_redirect_a_callback_to_a_message_with_another_sid(client, db):
    message_id, sid, _ = sent_message(db)
    response = twilio_post(
        client, callback(new_sid(), "failed", ErrorCode="30003"), path=f"/?message_id={message_id}"
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "unknown_sid"
    unchanged = row(db, message_id)
    assert (unchanged["status"], unchanged["twilio_message_sid"], unchanged["error_code"]) == (
        "queued",
        sid,
        None,
    )


def test_malformed_message_id_in_the_callback_url_is_400(client, db):
    message_id, sid, _ = sent_message(db)
    response = twilio_post(client, callback(sid, "delivered"), path="/?message_id=not-a-uuid")
    assert response.status_code == 400
    assert "message_id" in response.get_data(as_text=True)
    assert row(db, message_id)["status"] == "queued"
