import json
import logging
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.logs import CloudLoggingFormatter, mask_phone


def test_mask_phone_keeps_prefix_and_last_two_digits():
    assert mask_phone("+14155550123") == "+141******23"
    assert "4155550123" not in mask_phone("call 415-555-0123 now")


def test_mask_phone_leaves_short_numbers_and_uuids_alone():
    assert mask_phone("attempt 3 of 5") == "attempt 3 of 5"
    uid = "6f1c2b1e-0c57-4a4e-9d2b-1c2d3e4f5a6b"
    assert mask_phone(uid) == uid


def test_mask_phone_leaves_dates_and_times_alone_but_not_a_number_after_them():
    for stamp in (
        "2026-12-04T22:36:48.549843+00:00",  # an isoformat() field: its seconds look like a number
        "due 2026-12-04 22:36:48",
        "at 22:36:48.549843 UTC",
        "2026-12-04",
    ):
        assert mask_phone(stamp) == stamp
    assert mask_phone("2026-12-04 +14155550123") == "2026-12-04 +141******23"
    assert mask_phone("22:36:48.5 4155550123") == "22:36:48.5 415******23"
    assert mask_phone("tel:+14155550123") == "tel:+141******23"


@settings(max_examples=500)
@given(st.uuids())
def test_mask_phone_keeps_every_uuid_whole(uid: uuid.UUID) -> None:
    """About 7 % of random UUIDs hold digit groups the phone pattern matches ("7791-4970"):
    they were masked, so an id in a log line could not be searched for."""
    text = str(uid)
    assert mask_phone(text) == text
    assert (
        mask_phone(f"user_id={text}, texted from +14155550123") == f"user_id={text}, texted from +141******23"
    )


def test_mask_phone_keeps_known_uuids_whole_and_still_masks_around_them():
    for uid in ("2f7c4092-7791-4970-9f09-33c7bbd00c3c", "00000000-0000-4000-8000-000000000007"):
        assert mask_phone(uid) == uid
        assert mask_phone(f"+14155550123 {uid} 415-555-0123") == f"+141******23 {uid} 415******23"


def _format(msg: str, **extra: object) -> dict[str, Any]:
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    entry: dict[str, Any] = json.loads(CloudLoggingFormatter().format(record))
    return entry


def test_formatter_writes_cloud_logging_fields_and_masks_everywhere():
    entry = _format("text from +14155550123", phone="+14155550123", nested={"to": ["+447700900123"]})
    assert entry["severity"] == "WARNING"
    assert "+14155550123" not in json.dumps(entry)
    assert entry["message"].startswith("text from +141")
    assert entry["phone"].endswith("23")
    assert entry["nested"]["to"][0].startswith("+447")
    assert "logging.googleapis.com/sourceLocation" in entry
