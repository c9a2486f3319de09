from typing import Any

import pytest

from shared.domain.opt_out import HELP_TEXT
from tests.sms_support import (
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    app_client,
    configure,
    counts,
    inbound_params,
    new_sid,
    twilio_post,
)

pytestmark = pytest.mark.integration

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture
def client(database_url, monkeypatch):
    configure(monkeypatch)
    return app_client("twilio_inbound")


def events(db: Any, event_type: str | None = None) -> Any:
    if event_type:
        return db.execute(
            "SELECT * FROM events WHERE event_type = %s ORDER BY created_at", (event_type,)
        ).fetchall()
    return db.execute("SELECT * FROM events ORDER BY created_at").fetchall()


def test_first_message_creates_user_conversation_message_and_event(client, db):
    params = inbound_params("(415) 555-0123", "Hi, Sarah sent me")
    response = twilio_post(client, params)

    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == EMPTY_TWIML
    user = db.execute("SELECT * FROM users").fetchone()
    assert user["phone_number"] == "+14155550123"
    assert user["poc_agent_type"] == "bouncer"
    assert user["verified"] is False
    assert user["timezone"] == "America/Los_Angeles"
    assert user["last_active_at"] is not None
    conversation = db.execute("SELECT * FROM conversations").fetchone()
    assert conversation["user_id"] == user["id"]
    assert conversation["status"] == "active"
    assert conversation["last_message_at"] is not None
    message = db.execute("SELECT * FROM messages").fetchone()
    assert message["role"] == "user"
    assert message["direction"] == "inbound"
    assert message["status"] == "received"
    assert message["content"] == "Hi, Sarah sent me"
    assert message["twilio_message_sid"] == params["MessageSid"]
    assert message["routed"] is True
    [event] = events(db)
    assert event["event_type"] == "message.received"
    assert event["aggregate_type"] == "user"
    assert event["aggregate_id"] == user["id"]
    assert event["payload"] == {
        "user_id": str(user["id"]),
        "conversation_id": str(conversation["id"]),
        "message_id": str(message["id"]),
        "message_sid": params["MessageSid"],
    }


def test_second_message_reuses_user_and_conversation(client, db):
    twilio_post(client, inbound_params(body="one"))
    twilio_post(client, inbound_params(body="two"))
    assert counts(db) == {"users": 1, "conversations": 1, "messages": 2, "events": 2}


def test_replayed_message_sid_writes_nothing_new(client, db):
    params = inbound_params(body="only once")
    assert twilio_post(client, params).status_code == 200
    before = counts(db)
    again = twilio_post(client, params)
    assert again.status_code == 200
    assert again.get_data(as_text=True) == EMPTY_TWIML
    assert counts(db) == before == {"users": 1, "conversations": 1, "messages": 1, "events": 1}


def test_mms_media_urls_are_stored(client, db):
    params = inbound_params(body="")
    params.update(
        {
            "MessageSid": new_sid("MM"),
            "NumMedia": "2",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "MediaContentType0": "image/jpeg",
            "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
            "MediaContentType1": "image/png",
        }
    )
    assert twilio_post(client, params).status_code == 200
    message = db.execute("SELECT content, media_urls FROM messages").fetchone()
    assert message["content"] == ""
    assert message["media_urls"] == [params["MediaUrl0"], params["MediaUrl1"]]


def test_stop_opts_out_and_is_not_routed(client, db):
    twilio_post(client, inbound_params(body="hello"))
    assert twilio_post(client, inbound_params(body="STOP")).status_code == 200

    user = db.execute("SELECT * FROM users").fetchone()
    assert user["opted_out"] is True
    assert user["opted_out_at"] is not None
    stop = db.execute("SELECT * FROM messages WHERE content = 'STOP'").fetchone()
    assert stop["routed"] is False
    [opted_out] = events(db, "user.opted_out")
    assert opted_out["payload"]["user_id"] == str(user["id"])
    assert opted_out["payload"]["message_id"] == str(stop["id"])
    assert len(events(db, "message.received")) == 1  # only "hello"
    # Nothing is ever sent back for STOP.
    assert db.execute("SELECT count(*) AS n FROM messages WHERE direction = 'outbound'").fetchone()["n"] == 0


def test_plain_language_revocation_opts_out(client, db):
    twilio_post(client, inbound_params(body="Please stop texting me"))
    assert db.execute("SELECT opted_out FROM users").fetchone()["opted_out"] is True
    assert events(db, "message.received") == []


def test_messages_from_opted_out_user_are_stored_unrouted(client, db):
    twilio_post(client, inbound_params(body="stop"))
    twilio_post(client, inbound_params(body="actually, what is this?"))
    message = db.execute("SELECT * FROM messages WHERE content LIKE 'actually%%'").fetchone()
    assert message["routed"] is False
    assert events(db, "message.received") == []
    # "yes" from an opted-out user opts back in; START likewise.
    twilio_post(client, inbound_params(body="Yes"))
    user = db.execute("SELECT * FROM users").fetchone()
    assert user["opted_out"] is False
    assert user["opted_out_at"] is None
    assert len(events(db, "user.opted_in")) == 1
    twilio_post(client, inbound_params(body="back again"))
    assert len(events(db, "message.received")) == 1


def test_start_when_not_opted_out_changes_nothing_and_is_not_routed(client, db):
    twilio_post(client, inbound_params(body="START"))
    assert events(db) == []
    assert db.execute("SELECT routed FROM messages").fetchone()["routed"] is False


def test_help_gets_the_help_text_through_the_outbound_path(client, db):
    twilio_post(client, inbound_params(body="HELP"))
    inbound = db.execute("SELECT * FROM messages WHERE direction = 'inbound'").fetchone()
    assert inbound["routed"] is False
    [reply] = db.execute("SELECT * FROM messages WHERE direction = 'outbound'").fetchall()
    assert reply["content"] == HELP_TEXT
    assert reply["status"] == "pending"
    assert reply["role"] == "system"
    assert reply["conversation_id"] == inbound["conversation_id"]
    assert events(db, "message.received") == []


@pytest.mark.parametrize(
    "body",
    [
        "'; DROP TABLE users; --",
        "<script>alert('x')</script> &amp; <b>bold</b>",
        "🎉🚀 emoji 👨‍👩‍👧‍👦 family",
        "مرحبا بالعالم — שלום עולם",
        "line one\r\nline two\ttabbed  double  spaced ",
        "%(user_id)s {0} $1 \\x00 literal backslash",
    ],
)
def test_hostile_and_unusual_text_is_stored_byte_exact(client, db, body):
    assert twilio_post(client, inbound_params(body=body)).status_code == 200
    assert db.execute("SELECT content FROM messages").fetchone()["content"] == body
    assert db.execute("SELECT count(*) AS n FROM users").fetchone()["n"] == 1


# --- bad input: clear 4xx, nothing written ---------------------------------------------------------


def assert_nothing_written(db: Any) -> None:
    assert counts(db) == {"users": 0, "conversations": 0, "messages": 0, "events": 0}


def test_missing_signature_is_403(client, db):
    params = inbound_params()
    response = client.post("/", data=params, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403
    assert_nothing_written(db)


@pytest.mark.parametrize(
    "how",
    ["wrong token", "wrong url", "tampered body", "garbage"],
)
def test_invalid_signature_is_403(client, db, how):
    params = inbound_params()
    if how == "wrong token":
        response = twilio_post(client, params, token="not-the-token")
    elif how == "wrong url":
        response = twilio_post(client, params, base="https://evil.example.test")
    elif how == "tampered body":
        from twilio.request_validator import RequestValidator

        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/", params)
        response = twilio_post(client, {**params, "Body": "changed"}, signature=signature)
    else:
        response = twilio_post(client, params, signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert_nothing_written(db)


def test_wrong_method_is_405(client, db):
    assert client.get("/").status_code == 405
    assert client.put("/", data="x", content_type="application/x-www-form-urlencoded").status_code == 405
    assert_nothing_written(db)


def test_wrong_content_type_is_415(client, db):
    response = client.post("/", json=inbound_params())
    assert response.status_code == 415
    assert_nothing_written(db)


@pytest.mark.parametrize("field", ["From", "Body", "MessageSid"])
def test_missing_required_field_is_400(client, db, field):
    params = inbound_params()
    del params[field]
    response = twilio_post(client, params)
    assert response.status_code == 400
    assert field in response.get_data(as_text=True)
    assert_nothing_written(db)


@pytest.mark.parametrize(
    ("from_number", "reason"),
    [
        ("not a number", "From is not a usable phone number"),
        ("+1415", "too short"),
        ("whatsapp:+14155550123", "channel"),
    ],
)
def test_unparseable_from_is_400_with_the_reason(client, db, from_number, reason):
    response = twilio_post(client, inbound_params(from_number=from_number))
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert_nothing_written(db)


def test_malformed_message_sid_is_400(client, db):
    response = twilio_post(client, inbound_params(sid="SM-not-a-sid"))
    assert response.status_code == 400
    assert_nothing_written(db)


def test_body_over_1600_characters_is_refused_with_413(client, db):
    response = twilio_post(client, inbound_params(body="x" * 1601))
    assert response.status_code == 413
    assert "1600" in response.get_data(as_text=True)
    assert_nothing_written(db)


def test_body_of_exactly_1600_characters_is_stored(client, db):
    assert twilio_post(client, inbound_params(body="y" * 1600)).status_code == 200
    assert len(db.execute("SELECT content FROM messages").fetchone()["content"]) == 1600


def test_invalid_utf8_is_400_never_500(client, db):
    params = inbound_params()
    raw = "&".join(f"{k}={v}" for k, v in params.items() if k != "Body") + "&Body=%FF%FEbad"
    response = client.post(
        "/", data=raw, content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": "x"}
    )
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)
    assert_nothing_written(db)


def test_nul_character_is_400_never_500(client, db):
    response = twilio_post(client, inbound_params(body="before\x00after"))
    assert response.status_code == 400
    assert_nothing_written(db)


def test_oversized_request_is_413_before_parsing(client, db):
    params = inbound_params()
    params["Padding"] = "p" * (70 * 1024)
    response = twilio_post(client, params)
    assert response.status_code == 413
    assert_nothing_written(db)


@pytest.mark.parametrize(
    "media",
    [
        {"NumMedia": "11"},
        {"NumMedia": "two"},
        {"NumMedia": "1"},  # MediaUrl0 missing
        {"NumMedia": "1", "MediaUrl0": "javascript:alert(1)"},
    ],
)
def test_bad_media_parameters_are_400(client, db, media):
    response = twilio_post(client, {**inbound_params(), **media})
    assert response.status_code == 400
    assert_nothing_written(db)


def test_signature_covers_the_query_string(client, db):
    params = inbound_params()
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/?tenant=a", params)
    ok = client.post(
        "/?tenant=a",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert ok.status_code == 200
    replayed_elsewhere = client.post(
        "/?tenant=b",
        data=urlencode({**params, "MessageSid": new_sid()}),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert replayed_elsewhere.status_code == 403
    assert counts(db)["messages"] == 1


def test_a_member_texting_after_a_pause_resumes_the_same_conversation(client, db):
    """B4: the Bouncer pauses a conversation after two unanswered follow-ups; a reply revives it."""
    assert twilio_post(client, inbound_params("+14155550123", "hello")).status_code == 200
    [first] = db.execute("SELECT id FROM conversations").fetchall()
    db.execute("UPDATE conversations SET status = 'paused' WHERE id = %s", (first["id"],))

    assert twilio_post(client, inbound_params("+14155550123", "sorry, busy week")).status_code == 200

    conversations = db.execute("SELECT id, status FROM conversations").fetchall()
    assert conversations == [{"id": first["id"], "status": "active"}]
    latest = db.execute("SELECT conversation_id FROM messages ORDER BY created_at DESC LIMIT 1").fetchone()
    assert latest["conversation_id"] == first["id"]


def test_a_closed_conversation_is_not_revived(client, db):
    """A conversation closed by a phone-number change stays closed; the sender gets a new one."""
    assert twilio_post(client, inbound_params("+14155550123", "hello")).status_code == 200
    [first] = db.execute("SELECT id FROM conversations").fetchall()
    db.execute("UPDATE conversations SET status = 'closed' WHERE id = %s", (first["id"],))

    assert twilio_post(client, inbound_params("+14155550123", "new start")).status_code == 200

    rows = db.execute("SELECT id, status FROM conversations ORDER BY created_at").fetchall()
    assert [r["status"] for r in rows] == ["closed", "active"]
    assert rows[1]["id"] != first["id"]
