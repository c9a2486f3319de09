"""The bodies internal HTTP triggers accept (``shared/service_layer/triggers.py``), example by example.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): an empty or
blank body is a sweep, ``{}`` and ``{"sweep": true}`` are sweeps, ``{"table": <this table>,
"type": "INSERT"}`` is a webhook, and everything else is refused with the exact reason the caller
answers with its 400 (not JSON, not an object, the wrong table or operation, any other shape).
"""

from __future__ import annotations

import pytest

from shared.service_layer.triggers import InvalidTrigger, parse_trigger

TABLE = "message_queue"


def refusal(body: bytes, table: str = TABLE) -> str:
    with pytest.raises(InvalidTrigger) as info:
        parse_trigger(body, table)
    assert info.value.__cause__ is None
    return str(info.value)


@pytest.mark.parametrize(
    "body", [b"", b" ", b"\n\t  \r\n", b"{}", b" {} ", b'{"sweep": true}', b'{"sweep":true}\n']
)
def test_an_empty_body_an_empty_object_and_sweep_true_are_a_sweep(body: bytes) -> None:
    assert parse_trigger(body, TABLE) == "sweep"


@pytest.mark.parametrize("table", ["message_queue", "agent_tasks", "events"])
def test_an_insert_on_the_handlers_table_is_a_webhook(table: str) -> None:
    assert parse_trigger(f'{{"table": "{table}", "type": "INSERT"}}'.encode(), table) == "webhook"
    assert parse_trigger(f'{{"type": "INSERT", "table": "{table}"}}'.encode(), table) == "webhook"


@pytest.mark.parametrize("body", [b"not json", b"{", b'{"sweep": tru}', b"\xff\xfe", b"\xff", b"{}}"])
def test_a_body_that_is_not_json_is_refused(body: bytes) -> None:
    assert refusal(body) == "body is not JSON"


@pytest.mark.parametrize("body", [b"[]", b"[{}]", b"true", b"1", b'"sweep"', b"null", b" [] "])
def test_a_body_that_is_not_an_object_is_refused(body: bytes) -> None:
    assert refusal(body) == "body must be a JSON object"


@pytest.mark.parametrize(
    "body",
    [
        b'{"table": "messages", "type": "INSERT"}',
        b'{"table": "MESSAGE_QUEUE", "type": "INSERT"}',
        b'{"table": "message_queue", "type": "UPDATE"}',
        b'{"table": "message_queue", "type": "insert"}',
        b'{"table": "messages", "type": "DELETE"}',
        b'{"table": null, "type": "INSERT"}',
    ],
)
def test_another_tables_or_operations_webhook_is_refused(body: bytes) -> None:
    assert refusal(body) == "expected an INSERT on message_queue"


@pytest.mark.parametrize(
    "body",
    [
        b'{"sweep": false}',
        b'{"sweep": "true"}',
        b'{"sweep": 1}',  # equal to True in Python, but not the JSON true the scheduler sends
        b'{"sweep": 1.0}',
        b'{"sweep": true, "table": "message_queue"}',
        b'{"table": "message_queue"}',
        b'{"type": "INSERT"}',
        b'{"table": "message_queue", "type": "INSERT", "record": {}}',
        b'{"": 0}',
    ],
)
def test_any_other_object_is_refused_with_the_accepted_shapes(body: bytes) -> None:
    assert refusal(body) == 'expected {"table": "message_queue", "type": "INSERT"} or {"sweep": true}'


def test_the_refusals_name_the_handlers_table() -> None:
    assert refusal(b'{"table": "x", "type": "INSERT"}', "events") == "expected an INSERT on events"
    assert (
        refusal(b'{"a": 1}', "events") == 'expected {"table": "events", "type": "INSERT"} or {"sweep": true}'
    )


def test_an_invalid_trigger_is_a_value_error() -> None:
    assert issubclass(InvalidTrigger, ValueError)
