"""Hostile pushes and webhooks at the entry points the other fuzz files leave out.

Every Pub/Sub push consumer (each agent of the registry, and ``dead_letter_recorder``) gets
generated push bodies: junk, envelopes with broken fields, and well-formed envelopes naming
events and tasks that do not exist, with generated attributes. The database webhooks
``event_dispatcher`` and ``task_sweeper`` get generated bodies, signed and unsigned.

Each must answer below 500 (a 5xx makes Pub/Sub redeliver a message that can never succeed),
write nothing a member would see, and record a malformed delivery once however often it is
pushed again. A longer pass runs as ``python -m bench.fuzz``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from shared import registry
from shared.adapters.pubsub import OutboundMessage
from tests.backbone_support import push_body
from tests.fuzz_support import fuzz_settings, no_server_error
from tests.sms_support import WEBHOOK_SECRET, app_client, configure, counts, internal_post

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fuzz")]

FUZZ = fuzz_settings(25)
PUSH_CONSUMERS = (*(a.function for a in registry.deployed_agents()), "dead_letter_recorder")
EVENT_TYPES = sorted({t for a in registry.AGENTS for t in a.events} | {"message.received", ""})
TASK_TYPES = sorted({t for a in registry.AGENTS for t in a.tasks} | {""})

nasty = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\x00", "a\x00b", "-1", "2147483648", "' OR 1=1 --", "x" * 3000, "null", "{}"]),
)
uuid_like = st.one_of(st.uuids().map(str), nasty)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), nasty),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(nasty, inner, max_size=3)),
    max_leaves=8,
)
attributes = st.one_of(
    st.dictionaries(nasty, nasty, max_size=4),
    st.fixed_dictionaries(
        {"kind": st.just("event"), "event_id": uuid_like, "event_type": st.sampled_from(EVENT_TYPES) | nasty},
        optional={"user_id": uuid_like, "attempt": nasty},
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("task"),
            "task_id": uuid_like,
            "task_type": st.sampled_from(TASK_TYPES) | nasty,
            "claim_token": uuid_like,
        },
        optional={"user_id": uuid_like, "attempt": nasty},
    ),
)
data = st.one_of(
    st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
    json_values.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
    st.fixed_dictionaries({"event_id": uuid_like, "payload": json_values}).map(
        lambda v: base64.b64encode(json.dumps(v).encode()).decode()
    ),
    nasty,
)


def _with_ids(envelope: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {**envelope, "message": {**envelope["message"], **ids}}


envelopes = st.builds(
    _with_ids,
    # A push always names its subscription (functions-framework reads a body as a push only then).
    st.fixed_dictionaries(
        {
            "message": st.fixed_dictionaries({"data": data, "attributes": attributes}),
            "subscription": st.one_of(st.just("projects/p/subscriptions/agent-bouncer-push"), nasty),
        }
    ),
    st.fixed_dictionaries(
        {
            "messageId": nasty,
            "publishTime": st.one_of(
                st.just("2026-12-01T00:00:00Z"), st.just("2026-12-01T00:00:00.25Z"), nasty
            ),
        }
    ),
)
# Envelopes three times over: they reach the consumer's own decoding; junk stops at the framework.
push_bodies = st.one_of(*[envelopes.map(json.dumps)] * 3, json_values.map(json.dumps), st.text(max_size=200))


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, VERIFY_EMAIL_DOMAIN="verify.example.test")


def _dead_letters(db: Any) -> int:
    return int(db.execute("SELECT count(*) AS n FROM event_dead_letters").fetchone()["n"])


def _envelope(message_id: str) -> str:
    """A push of an empty message with no attributes (the consumer refuses it as malformed)."""
    body = push_body(
        OutboundMessage("agent-bouncer", b"", {}),
        subscription="",
        publish_time="2026-12-01T00:00:00Z",
        message_id=message_id,
    )
    return json.dumps(body)


@FUZZ
@given(function=st.sampled_from(PUSH_CONSUMERS), body=push_bodies)
# What this suite found (each was a 500, or a second dead letter, before the fix):
@example(function="agent_bouncer", body=_envelope("\x00"))
@example(function="agent_bouncer", body=_envelope(""))
@example(function="dead_letter_recorder", body=_envelope("\x00"))
@example(  # a well-formed event delivery whose message id holds a NUL: once a 500 (the delivery mark)
    function="agent_bouncer",
    body=json.dumps(
        push_body(
            OutboundMessage(
                "agent-bouncer",
                b"{}",
                {"kind": "event", "event_id": "e3e70682-c209-4cac-629f-6fbed82c07cd", "event_type": "x"},
            ),
            message_id="\x00",
        )
    ),
)
def test_pushes_never_answer_5xx_and_a_redelivery_records_nothing_new(env, db, function, body):
    client = app_client(function)
    before = counts(db)
    response = client.post("/", data=body.encode("utf-8", "surrogatepass"), content_type="application/json")
    no_server_error(function, response, body)
    assert counts(db) == before  # no member, message or event out of a hostile push
    letters = _dead_letters(db)
    again = client.post("/", data=body.encode("utf-8", "surrogatepass"), content_type="application/json")
    no_server_error(function, again, body)
    assert _dead_letters(db) == letters  # pushed again: recorded once


@pytest.mark.parametrize(
    "body",
    ['"a string"', "[1, 2]", "42", '{"context": 1}', '{"context": {}, "data": {}}', '{"message": 1}'],
)
@pytest.mark.parametrize("function", ["agent_bouncer", "dead_letter_recorder"])
def test_json_that_is_no_push_and_no_event_is_a_400_not_a_500(env, db, function, body):
    """functions-framework's conversion of such a body raises before the function runs
    (``shared.bootstrap._refuse_unconvertible_push``)."""
    response = app_client(function).post("/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert _dead_letters(db) == 0


def test_an_error_once_the_function_runs_is_still_a_500_so_pubsub_retries(env, db, monkeypatch):
    def down(*args: Any) -> None:
        raise RuntimeError("the database is down")

    monkeypatch.setattr("shared.entrypoints.deliver", down)
    response = app_client("agent_bouncer").post("/", data=_envelope("m-1"), content_type="application/json")
    assert response.status_code == 500


raw_bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()))


@pytest.fixture
def topology(env: None, pubsub_emulator: Any) -> None:
    """A signed, well-formed trigger runs a real sweep: it publishes to the emulator."""
    from tools.localstack.pubsub_emulator import ensure_topology

    ensure_topology(pubsub_emulator.project, lambda consumer: "http://127.0.0.1:9/unused")


@FUZZ
@given(function=st.sampled_from(["event_dispatcher", "task_sweeper"]), raw=raw_bodies, signed=st.booleans())
@example(function="event_dispatcher", raw=b"", signed=True)
@example(function="task_sweeper", raw=b'{"sweep": true}', signed=True)
def test_database_webhooks_never_answer_5xx(topology, db, function, raw, signed):
    client = app_client(function)
    before = counts(db)
    response = internal_post(client, None, secret=WEBHOOK_SECRET if signed else None, raw=raw)
    no_server_error(function, response, raw[:200])
    assert counts(db) == before
    if not signed:
        assert response.status_code == 401
