"""Events: facts, past tense, written to the ``events`` outbox in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Event:
    event_type: str  # dotted name, e.g. "message.received"
    aggregate_type: (
        str | None
    )  # user, conversation, message, community_request, ...; None: about no aggregate
    aggregate_id: UUID | None
    payload: dict[str, Any]
    created_by: str
    metadata: dict[str, Any] = field(default_factory=dict)
