"""Which outbound message a queued part is recorded against when a long body went out as several
messages (``orchestrate._message_per_part``; mutmut survivors in shared/service_layer/orchestrate.py)."""

from __future__ import annotations

from uuid import uuid4

from shared.domain.sms import split_long_body
from shared.service_layer.orchestrate import _message_per_part

LONG = "word " * 400  # 2,000 characters: more than one SMS body


def test_one_message_per_part_maps_each_part_to_its_message() -> None:
    ids = [uuid4(), uuid4()]
    assert _message_per_part(["hi", "there"], ids) == ids


def test_a_long_part_is_recorded_against_the_first_of_its_messages() -> None:
    parts = split_long_body(LONG)
    assert len(parts) == 2
    first, long_a, long_b, last = uuid4(), uuid4(), uuid4(), uuid4()
    assert _message_per_part(["hello", LONG, "bye"], [first, long_a, long_b, last]) == [first, long_a, last]
    assert _message_per_part([LONG, "bye"], [long_a, long_b, last]) == [long_a, last]


def test_fewer_messages_than_parts_point_the_rest_at_the_last_message() -> None:
    only = uuid4()
    assert _message_per_part([LONG, "bye"], [only]) == [only, only]
