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


def json_object(value: Any) -> dict[str, Any]:
    """A ``jsonb`` column that should hold an object; anything else reads as empty."""
    return value if isinstance(value, dict) else {}
