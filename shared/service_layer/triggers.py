"""The bodies internal HTTP triggers accept (database webhook or scheduler sweep).

- database webhook (pg_net / local relay): ``{"table": "<table>", "type": "INSERT"}``
- Cloud Scheduler / the local scheduler loop: ``{}`` or ``{"sweep": true}``

Anything else is refused (the caller answers 400), so a malformed or foreign body never runs work.
"""

from __future__ import annotations

import json
from typing import Literal

Trigger = Literal["webhook", "sweep"]


class InvalidTrigger(ValueError):
    """The body is not one of the accepted trigger shapes."""


def parse_trigger(body: bytes, table: str) -> Trigger:
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidTrigger("body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidTrigger("body must be a JSON object")
    if not data or (set(data) == {"sweep"} and data["sweep"] is True):  # 1 == True, but 1 is refused
        return "sweep"
    if set(data) == {"table", "type"}:
        if data["table"] != table or data["type"] != "INSERT":
            raise InvalidTrigger(f"expected an INSERT on {table}")
        return "webhook"
    raise InvalidTrigger(f'expected {{"table": "{table}", "type": "INSERT"}} or {{"sweep": true}}')
