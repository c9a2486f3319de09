"""Hostile input never becomes a 500 (issue: reliability, "hostile input").

Hypothesis throws generated input, signed and unsigned, at the public and internal HTTP entry
points through functions-framework and asserts: no 5xx, and a refused request writes nothing.
A longer pass runs as ``python -m bench.fuzz`` (outside CI time; ``tests/fuzz_support.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz_support import fuzz_settings, no_server_error
from tests.sms_support import (
    WEBHOOK_SECRET,
    add_outbound,
    app_client,
    configure,
    counts,
    inbound_params,
    internal_post,
    make_user,
    new_sid,
    twilio_post,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fuzz")]

FUZZ = fuzz_settings(60)

# Text a hostile client would send: control characters, NULs, huge numbers, broken URLs.
nasty_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "http://[",
            "http://x/%00",
            "https://example.com/\x00",
            "2147483648",
            "-1",
            "99999999999999999999",
            "+49793350331483153",
            "+431234",
            "whatsapp:+14155550123",
            '=HYPERLINK("http://evil")',
            "' OR 1=1 --",
            "x" * 5000,
        ]
    ),
)
phone_like = st.one_of(nasty_text, st.from_regex(r"\+[0-9]{1,20}", fullmatch=True), st.just("+14155550123"))


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(
        monkeypatch, EMAIL_WEBHOOK_SECRET="fuzz-email-secret", VERIFY_EMAIL_DOMAIN="verify.example.test"
    )


@FUZZ
@given(
    from_number=phone_like,
    body=nasty_text,
    num_media=st.one_of(st.just("0"), st.just("1"), nasty_text),
    media=nasty_text,
    signed=st.booleans(),
)
# The classes a hostile-client run found (each answered 500 before the boundary bounded them):
@example(from_number="+49793350331483153", body="hi", num_media="0", media="", signed=True)
@example(from_number="+431234", body="hi", num_media="0", media="", signed=True)
@example(from_number="+14155550123", body="hi", num_media="1", media="http://[", signed=True)
@example(from_number="+14155550123", body="hi", num_media="1", media="https://x/\x00", signed=True)
def test_twilio_inbound_never_answers_5xx(env, db, from_number, body, num_media, media, signed):  # noqa: PLR0917
    client = app_client("twilio_inbound")
    params = inbound_params(from_number, body, new_sid())
    params.update({"NumMedia": num_media, "MediaUrl0": media})
    before = counts(db)
    response = twilio_post(client, params, signature=None if signed else "bogus")
    no_server_error("twilio_inbound", response, params)
    if response.status_code != 200:
        assert counts(db) == before  # a refused request writes nothing


@FUZZ
@given(
    sid=st.one_of(st.just(new_sid()), nasty_text),
    status=st.one_of(st.sampled_from(["sent", "delivered", "failed", "undelivered"]), nasty_text),
    code=nasty_text,
    message=nasty_text,
    message_id=st.one_of(st.none(), nasty_text, st.uuids().map(str)),
)
@example(sid="SM" + "a" * 32, status="failed", code="2147483648", message="x", message_id=None)
@example(sid="SM" + "a" * 32, status="failed", code="30003", message="bad\x00byte", message_id=None)
def test_twilio_status_never_answers_5xx(env, db, sid, status, code, message, message_id):  # noqa: PLR0917
    client = app_client("twilio_status")
    params = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code, "ErrorMessage": message}
    path = (
        "/"
        if message_id is None
        else "/?" + __import__("urllib.parse").parse.urlencode({"message_id": message_id})
    )
    response = twilio_post(client, params, path=path)
    no_server_error("twilio_status", response, params)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), nasty_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)),
    max_leaves=12,
)
email_payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"to": st.one_of(nasty_text, st.lists(nasty_text, max_size=3)), "from": nasty_text},
        optional={"message_id": nasty_text},
    ),
    st.fixed_dictionaries(
        {"recipients": st.lists(nasty_text, max_size=3), "envelope_sender": nasty_text},
        optional={"headers": json_values},
    ),
)


@FUZZ
@given(payload=email_payloads, authed=st.booleans())
@example(payload={"to": "verify-abc@verify.example.test", "from": "a" * 300 + "@x.com"}, authed=True)
@example(
    payload={"to": "verify-abc@verify.example.test", "from": "a@x.com", "message_id": "m\x00"}, authed=True
)
def test_email_inbound_never_answers_5xx(env, db, payload, authed):
    client = app_client("email_inbound")
    headers = {"X-Email-Webhook-Secret": "fuzz-email-secret"} if authed else {}
    before = counts(db)
    response = client.post("/", data=json.dumps(payload), content_type="application/json", headers=headers)
    no_server_error("email_inbound", response, payload)
    if response.status_code != 200:
        assert counts(db) == before


@FUZZ
@given(payload=json_values, signed=st.booleans())
def test_internal_functions_never_answer_5xx(env, db, payload, signed):
    for name in ("sms_sender", "message_orchestrator"):
        client = app_client(name)
        response = internal_post(client, payload, secret=WEBHOOK_SECRET if signed else None)
        no_server_error(name, response, payload)


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [b"", b"{", b"\x00", b"\xff\xfe", b"[]", b"null", b'{"job": null}', b'{"job": "x" }' * 500]
    ),
)


@FUZZ
@given(payload=json_values, raw=st.one_of(st.none(), raw_bodies), signed=st.booleans())
@example(payload=None, raw=b'{"job": "close_expired_requests"}', signed=True)
@example(payload=None, raw=b'{"job": "close_expired_requests", "extra": 1}', signed=True)
@example(payload=None, raw=b"\xff", signed=True)
def test_scheduled_jobs_never_answer_5xx_and_a_refusal_writes_nothing(env, db, payload, raw, signed):
    """community_closer and retention: the scheduler's jobs, fuzzed signed and unsigned."""
    for name in ("community_closer", "retention"):
        client = app_client(name)
        before = counts(db)
        body = raw if raw is not None else json.dumps(payload).encode()
        response = internal_post(client, None, secret=WEBHOOK_SECRET if signed else None, raw=body)
        no_server_error(name, response, body[:200])
        if response.status_code != 200:
            assert counts(db) == before
        if not signed:
            assert response.status_code == 401


@FUZZ
@given(payload=json_values)
def test_admin_never_answers_5xx(env, db, payload):
    client = app_client("admin")
    response = client.post(
        "/", data=json.dumps(payload), content_type="application/json", headers={"Authorization": "Bearer x"}
    )
    no_server_error("admin", response, payload)


# The same classes where they reach storage: each example arranges the row it would touch.


def _sent_message(db: Any, sid: str) -> Any:
    user_id, conversation_id = make_user(db)
    [message_id] = add_outbound(user_id, conversation_id, ["hello"])
    db.execute(
        "UPDATE messages SET status = 'sent', twilio_message_sid = %s WHERE id = %s", (sid, message_id)
    )
    return message_id


@pytest.mark.parametrize(
    ("code", "message"),
    [("2147483648", "x"), ("30003", "bad\x00byte"), ("-5", "negative"), ("30003", "y" * 5000)],
)
def test_status_fields_are_bounded_before_they_reach_the_row(env, db, code, message):
    sid = new_sid()
    message_id = _sent_message(db, sid)
    client = app_client("twilio_status")
    params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": code, "ErrorMessage": message}
    response = twilio_post(client, params)
    assert response.status_code in (200, 400)
    row = db.execute("SELECT status, error_message FROM messages WHERE id = %s", (message_id,)).fetchone()
    if response.status_code == 400:
        assert row["status"] == "sent"  # refused: nothing changed
    else:
        assert row["status"] == "failed" and "\x00" not in (row["error_message"] or "")


def test_a_callback_naming_a_message_whose_sid_belongs_to_another_is_not_a_500(env, db):
    sid = new_sid()
    _sent_message(db, sid)
    user_id, conversation_id = make_user(db, "+14155550124")
    [other] = add_outbound(user_id, conversation_id, ["other"])
    client = app_client("twilio_status")
    response = twilio_post(
        client, {"MessageSid": sid, "MessageStatus": "delivered"}, path=f"/?message_id={other}"
    )
    assert response.status_code == 200
    assert (
        db.execute("SELECT twilio_message_sid FROM messages WHERE id = %s", (other,)).fetchone()[
            "twilio_message_sid"
        ]
        is None
    )


@pytest.mark.parametrize(
    "extra", [{"from": "a" * 300 + "@x.com"}, {"from": "a@x.com", "message_id": "m\x00"}]
)
def test_email_fields_are_bounded_before_they_reach_the_row(env, db, extra):
    token = db.execute(
        "INSERT INTO users (phone_number) VALUES ('+14155550199') RETURNING verification_token"
    ).fetchone()["verification_token"]
    client = app_client("email_inbound")
    payload = {"to": f"verify-{token}@verify.example.test", **extra}
    response = client.post(
        "/",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Email-Webhook-Secret": "fuzz-email-secret"},
    )
    assert response.status_code < 500
