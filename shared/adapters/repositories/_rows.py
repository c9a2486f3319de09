"""Small conversions from driver values to the types the repositories' dataclasses promise."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID


def uuid_of(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def uuid_or_none(value: Any) -> UUID | None:
    return None if value is None else uuid_of(value)


def json_param(value: Any) -> str:
    """A Python value as a ``jsonb`` parameter (UUIDs, datetimes ... as strings)."""
    return json.dumps(value, default=str)


def without_nul(value: Any) -> Any:
    """``value`` with NUL removed from every string in it (dict keys too): PostgreSQL's ``text``
    and ``jsonb`` cannot hold NUL, and rows that record what a hostile client sent (dead
    letters) must still be written."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


def json_object(value: Any) -> dict[str, Any]:
    """A ``jsonb`` column that should hold an object; anything else reads as empty."""
    return value if isinstance(value, dict) else {}
