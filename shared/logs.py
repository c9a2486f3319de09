"""Structured JSON logs in Cloud Logging's format, with phone numbers masked.

Cloud Functions (2nd gen) parse one JSON object per stdout line: ``severity`` and
``message`` are understood, the rest become ``jsonPayload`` fields. Every string that
looks like a phone number is masked before it is written, wherever it appears.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

_PHONE = re.compile(r"(?<![\w])(\+?\d[\d\-\s().]{7,}\d)(?![\w])")
# Shapes the phone pattern also matches that are not phone numbers: an ISO date ("2026-12-04",
# then maybe " 22" of its time), and a time's seconds with their fraction ("48.549843" after
# "22:36:"). Only that part is kept as written; a number after it is still masked.
_DATE_LEAD = re.compile(r"\d{4}-\d\d-\d\d")
_TIME_BEFORE = re.compile(r"\d:\d\d:$")
_SECONDS_LEAD = re.compile(r"\d\d(?:\.\d+)?")
# A UUID (user, message and event ids) is never a phone number, though about 7 % of random ones
# hold a run of digit groups the phone pattern matches ("4970-9f09" does not, "7791-4970" does):
# masked, an id could no longer be searched for in the logs. UUIDs are kept whole.
_UUID = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![0-9A-Za-z])")
UUID_CHARS = 36
_LEVELS = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# A log field that is true on exactly one line per dead letter written to event_dead_letters,
# whichever path wrote it (the dispatcher, a consumer, a sweep, Pub/Sub's recorder): the
# dead-letter alert's metric counts these lines (terraform/modules/platform/observability.tf).
DEAD_LETTER_RECORDED = "dead_letter_recorded"


def mask_phone(value: str) -> str:
    """Keep the country prefix and the last two digits: ``+14155550123`` -> ``+141******23``.
    UUIDs, dates and times are left as written."""
    if len(value) < UUID_CHARS or "-" not in value:
        return _mask_numbers(value)
    out: list[str] = []
    last = 0
    for match in _UUID.finditer(value):
        out += [_mask_numbers(value[last : match.start()]), match.group(0)]
        last = match.end()
    out.append(_mask_numbers(value[last:]))
    return "".join(out)


def _mask_numbers(value: str) -> str:
    def _mask(match: re.Match[str]) -> str:
        raw = match.group(1)
        start = match.start(1)
        lead = _DATE_LEAD.match(raw) or (
            _SECONDS_LEAD.match(raw) if _TIME_BEFORE.search(value, max(0, start - 5), start) else None
        )
        if lead:
            return raw[: lead.end()] + _mask_numbers(raw[lead.end() :])
        digits = [c for c in raw if c.isdigit()]
        if len(digits) < 8:
            return raw
        keep_head = 4 if raw.startswith("+") else 3
        head = raw[:keep_head]
        return head + "*" * max(len(digits) - keep_head - 1, 1) + "".join(digits[-2:])

    return _PHONE.sub(_mask, value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _LEVELS.get(record.levelno, "DEFAULT"),
            "message": mask_phone(record.getMessage()),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
            "logging.googleapis.com/sourceLocation": {
                "file": record.pathname,
                "line": record.lineno,
                "function": record.funcName,
            },
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = _scrub(value)
        if record.exc_info:
            entry["stack_trace"] = mask_phone(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


_configured = False


def configure_logging(level: str | None = None) -> None:
    """Install the JSON formatter on the root logger once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if level is None:
        # Read straight from the environment: loggers are made at import time, and building the
        # settings object there would freeze every other setting before the first request.
        level = os.environ.get("LOG_LEVEL", "INFO")
    root.setLevel(level.upper())
    _configured = True


def get_logger(name: str) -> logging.Logger:
    configure_logging()
    return logging.getLogger(name)
