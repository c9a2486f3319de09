"""user_priorities: what a member's point of contact may bring up, ranked (decisions B9)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_of


@dataclass(frozen=True)
class Priority:
    """One open item of a member's priorities, with its denormalised fields."""

    id: UUID
    priority_rank: int
    item_type: str
    item_id: UUID
    value_score: float | None
    status: str
    presentation_count: int
    last_presented_at: datetime | None
    item_summary: str | None
    item_primary_name: str | None
    item_secondary_name: str | None
    item_context: Any


@dataclass(frozen=True)
class Presented:
    """A priority after one more presentation (``dormant`` after the last allowed one)."""

    id: UUID
    status: str
    presentation_count: int


class PriorityRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def open_for_user(self, user_id: UUID, *, limit: int) -> list[Priority]:
        """The member's top priorities that are not dormant, best ranked first."""
        return [
            Priority(
                id=uuid_of(r["id"]),
                priority_rank=int(r["priority_rank"]),
                item_type=r["item_type"],
                item_id=uuid_of(r["item_id"]),
                value_score=None if r["value_score"] is None else float(r["value_score"]),
                status=r["status"],
                presentation_count=int(r["presentation_count"] or 0),
                last_presented_at=r["last_presented_at"],
                item_summary=r["item_summary"],
                item_primary_name=r["item_primary_name"],
                item_secondary_name=r["item_secondary_name"],
                item_context=r["item_context"],
            )
            for r in self._sql.all("priorities_open_for_user", user_id=user_id, limit=limit)
        ]

    def cancel_for_items(self, item_type: str, item_ids: Sequence[UUID]) -> int:
        """The priority rows presenting items that were cancelled; returns how many."""
        return self._sql.run("priorities_cancel_for_items", item_type=item_type, item_ids=list(item_ids))

    def set_item_status(self, user_id: UUID, item_type: str, item_id: UUID, status: str) -> int:
        """The member's own open priority for one item to ``status`` (actioned when they answered it)."""
        return self._sql.run(
            "priority_set_item_status", user_id=user_id, item_type=item_type, item_id=item_id, status=status
        )

    def expire_for_community_request(self, request_id: UUID) -> int:
        """Priorities presenting a finished community request or one of its answers expire."""
        return self._sql.run("priorities_expire_for_community_request", request_id=request_id)

    def mark_presented(
        self, user_id: UUID, item_type: str, item_id: str, *, dormant_after: int
    ) -> Presented | None:
        """Count one presentation of the member's own item; None when it is not theirs or not open."""
        row = self._sql.one(
            "priorities_mark_presented",
            user_id=user_id,
            item_type=item_type,
            item_id=item_id,
            dormant_after=dormant_after,
        )
        if row is None:
            return None
        return Presented(uuid_of(row["id"]), row["status"], int(row["presentation_count"]))
