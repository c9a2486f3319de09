"""How a Pub/Sub delivery is decoded (``shared/service_layer/consumer.py``), example by example.

Written against the mutmut survivors in ``decode_delivery``, ``_parse_time``,
``pubsub_message``, ``default_delivery_key`` and ``delivery_user_id`` (docs/testing.md): each
field of the decoded ``Delivery``, each fallback, and the exact reason of each malformed
delivery (the reason is what the operator reads on the dead letter).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from cloudevents.http import CloudEvent

from shared.service_layer.consumer import (
    Delivery,
    MalformedDelivery,
    PermanentError,
    _parse_time,
    decode_delivery,
    default_delivery_key,
    delivery_user_id,
    pubsub_message,
)

EVENT_ID = UUID("11111111-1111-4111-8111-111111111111")
TASK_ID = UUID("22222222-2222-4222-8222-222222222222")
CLAIM = UUID("33333333-3333-4333-8333-333333333333")
USER = UUID("44444444-4444-4444-8444-444444444444")
CE_TIME = "2026-12-01T09:00:00Z"


def _data(body: Any) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()


def _event(message: dict[str, Any] | None = None, *, data: Any = None, ce_id: str = "ce-1") -> CloudEvent:
    payload = data if data is not None else {"message": message}
    return CloudEvent(
        {
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "source": "//pubsub",
            "id": ce_id,
            "time": CE_TIME,
        },
        payload,
    )


def _message(attributes: dict[Any, Any], body: Any = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"attributes": attributes, "data": _data({} if body is None else body)}
    message.update(extra)
    return message


def _event_attributes(**extra: str) -> dict[str, str]:
    return {"kind": "event", "event_id": str(EVENT_ID), "event_type": "message.received", **extra}


def _task_attributes(**extra: str) -> dict[str, str]:
    return {
        "kind": "task",
        "task_id": str(TASK_ID),
        "task_type": "re_engagement_check",
        "claim_token": str(CLAIM),
        **extra,
    }


def _reason(cloud_event: CloudEvent) -> str:
    with pytest.raises(MalformedDelivery) as caught:
        decode_delivery(cloud_event)
    return str(caught.value)


# --- a well-formed event ----------------------------------------------------------------------


def test_an_event_delivery_decodes_every_field():
    attributes = _event_attributes(attempt="3", user_id=str(USER))
    body = {"event_id": str(EVENT_ID), "payload": {"x": 1}}
    message = _message(attributes, body, messageId="m-42", publishTime="2026-12-01T10:00:00.123456789Z")
    delivery = decode_delivery(_event(message))
    assert delivery == Delivery(
        kind="event",
        id=EVENT_ID,
        type="message.received",
        attempt=3,
        published_at=datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC),
        data=body,
        attributes=attributes,
        user_id=USER,
        message_id="m-42",
    )
    assert delivery.published_at.utcoffset() == timedelta(0)
    assert delivery.attributes is not attributes  # a copy
    assert delivery.claim_token is None
    assert default_delivery_key(delivery) == f"event:{EVENT_ID}"


def test_defaults_and_fallbacks_of_an_event_delivery():
    # No attempt (1), no user, no messageId (the CloudEvent's id), no publishTime (its time),
    # and a body without an id is fine.
    delivery = decode_delivery(_event(_message(_event_attributes()), ce_id="ce-7"))
    assert delivery.attempt == 1
    assert delivery.user_id is None
    assert delivery.message_id == "ce-7"
    assert delivery.published_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert delivery.data == {}


def test_without_any_message_id_the_delivery_has_an_empty_one():
    assert decode_delivery(_event(_message(_event_attributes()), ce_id="")).message_id == ""


@pytest.mark.parametrize(("message_id", "ce_id"), [("\x00", "ce-1"), ("m-\x00", "ce-1"), ("", "ce-\x00")])
def test_a_message_id_holding_a_nul_is_malformed(message_id: str, ce_id: str):
    message = _message(_event_attributes(), messageId=message_id)
    assert _reason(_event(message, ce_id=ce_id)) == "message id holds a NUL character"


def test_an_empty_user_id_attribute_means_no_user():
    assert decode_delivery(_event(_message(_event_attributes(user_id="")))).user_id is None


def test_a_body_naming_the_same_id_is_accepted():
    delivery = decode_delivery(_event(_message(_event_attributes(), {"event_id": str(EVENT_ID)})))
    assert delivery.id == EVENT_ID


# --- a well-formed task -----------------------------------------------------------------------


def test_a_task_delivery_decodes_its_id_type_and_claim_token():
    attributes = _task_attributes(attempt="2")
    body = {"task_id": str(TASK_ID)}
    delivery = decode_delivery(_event(_message(attributes, body, publishTime="2026-12-01T10:00:00Z")))
    assert (delivery.kind, delivery.id, delivery.type, delivery.attempt) == (
        "task",
        TASK_ID,
        "re_engagement_check",
        2,
    )
    assert delivery.claim_token == CLAIM
    assert default_delivery_key(delivery) == f"task:{TASK_ID}:{CLAIM}"


# --- malformed: each reason -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_message({"kind": 1}), "message attributes must map strings to strings"),
        (_message({1: "event"}), "message attributes must map strings to strings"),
        ({"attributes": ["kind"], "data": _data({})}, "message attributes must map strings to strings"),
        ({"attributes": _event_attributes()}, "message data missing"),
        ({"attributes": _event_attributes(), "data": 5}, "message data missing"),
        (
            {"attributes": _event_attributes(), "data": "not base64!"},
            "message data is not base64-encoded JSON",
        ),
        # Not base64 in the strict sense: a lenient decoder would drop the "!" and read "{}".
        ({"attributes": _event_attributes(), "data": "e3!0="}, "message data is not base64-encoded JSON"),
        (
            {"attributes": _event_attributes(), "data": base64.b64encode(b"not json").decode()},
            "message data is not base64-encoded JSON",
        ),
        (_message(_event_attributes(), ["a", "list"]), "message data is not a JSON object"),
        (_message({"event_id": str(EVENT_ID)}), "unknown delivery kind None"),
        (_message(_event_attributes(kind="job")), "unknown delivery kind 'job'"),
        (_message(_event_attributes(event_id="nope")), "event_id attribute is not a UUID: 'nope'"),
        (_message(_task_attributes(task_id="nope")), "task_id attribute is not a UUID: 'nope'"),
        (
            _message({k: v for k, v in _task_attributes().items() if k != "claim_token"}),
            "claim_token attribute is not a UUID: None",
        ),
        (_message(_event_attributes(event_type="")), "event delivery without a type attribute"),
        (
            _message({k: v for k, v in _task_attributes().items() if k != "task_type"}),
            "task delivery without a type attribute",
        ),
        (
            _message(_event_attributes(), {"event_id": str(uuid4())}),
            "message body and attributes name different ids",
        ),
        (
            _message(_task_attributes(), {"task_id": str(uuid4())}),
            "message body and attributes name different ids",
        ),
        (_message(_event_attributes(attempt="two")), "attempt attribute is not an integer"),
        (_message(_event_attributes(user_id="nobody")), "user_id attribute is not a UUID: 'nobody'"),
        (_message(_event_attributes(), publishTime="yesterday"), "publish time is not ISO 8601: 'yesterday'"),
    ],
)
def test_a_malformed_delivery_names_its_reason(message: dict[str, Any], reason: str):
    assert _reason(_event(message)) == reason


def test_a_malformed_delivery_is_a_permanent_error():
    assert issubclass(MalformedDelivery, PermanentError)


# --- the CloudEvent's data ----------------------------------------------------------------------


def test_the_message_is_read_from_json_text_or_bytes():
    message = _message(_event_attributes())
    assert pubsub_message(_event(data=json.dumps({"message": message}))) == message
    assert pubsub_message(_event(data=json.dumps({"message": message}).encode())) == message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("{not json", "CloudEvent data is not JSON"),
        (b"\xff", "CloudEvent data is not JSON"),
        ({"msg": {}}, "CloudEvent data has no Pub/Sub 'message' object"),
        ({"message": "text"}, "CloudEvent data has no Pub/Sub 'message' object"),
        (json.dumps(["message"]), "CloudEvent data has no Pub/Sub 'message' object"),
    ],
)
def test_cloud_event_data_without_a_message_is_malformed(data: Any, reason: str):
    with pytest.raises(MalformedDelivery) as caught:
        pubsub_message(_event(data=data))
    assert str(caught.value) == reason


# --- publish times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T10:00:00.5Z", datetime(2026, 12, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-12-01T10:00:00.000001Z", datetime(2026, 12, 1, 10, 0, 0, 1, tzinfo=UTC)),
        ("2026-12-01T10:00:00.123456789Z", datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-01T10:00:00.25+02:00", datetime(2026, 12, 1, 8, 0, 0, 250000, tzinfo=UTC)),
        (" 2026-12-01T10:00:00 ", datetime(2026, 12, 1, 10, tzinfo=UTC)),  # naive: UTC
        (datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 10, tzinfo=UTC)),
    ],
)
def test_publish_times_parse_to_aware_utc_instants(value: Any, expected: datetime):
    parsed = _parse_time(value)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_an_aware_datetime_keeps_its_zone():
    zone = timezone(timedelta(hours=-5))
    value = datetime(2026, 12, 1, 5, tzinfo=zone)
    assert _parse_time(value).tzinfo is zone
    assert _parse_time("2026-12-01T10:00:00+02:00").utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "publish time missing or not a string: None"),
        ("", "publish time missing or not a string: ''"),
        (1733000000, "publish time missing or not a string: 1733000000"),
        ("2026-13-01T00:00:00Z", "publish time is not ISO 8601: '2026-13-01T00:00:00Z'"),
    ],
)
def test_a_missing_or_bad_publish_time_is_malformed(value: Any, reason: str):
    with pytest.raises(MalformedDelivery) as caught:
        _parse_time(value)
    assert str(caught.value) == reason


# --- the member a delivery is about ---------------------------------------------------------------


def _delivery(user_id: UUID | None = None, data: dict[str, Any] | None = None) -> Delivery:
    return Delivery(
        kind="event",
        id=EVENT_ID,
        type="message.received",
        attempt=1,
        published_at=datetime(2026, 12, 1, tzinfo=UTC),
        data=data or {},
        attributes={},
        user_id=user_id,
    )


def test_the_member_comes_from_the_attribute_then_the_body_then_its_payload():
    other = uuid4()
    assert delivery_user_id(_delivery(USER, {"user_id": str(other)})) == USER
    assert (
        delivery_user_id(_delivery(None, {"user_id": str(USER), "payload": {"user_id": str(other)}})) == USER
    )
    assert delivery_user_id(_delivery(None, {"payload": {"user_id": str(USER)}})) == USER


def test_a_delivery_without_a_member_or_with_a_bad_one_is_permanent():
    with pytest.raises(PermanentError) as caught:
        delivery_user_id(_delivery(None, {"payload": None}))
    assert str(caught.value) == "event message.received carries no user id"
    with pytest.raises(PermanentError) as caught:
        delivery_user_id(_delivery(None, {"user_id": "bob"}))
    assert str(caught.value) == "user id is not a UUID: 'bob'"
