"""user_priorities: what a member's point of contact may bring up, ranked (decisions B9), and
account_manager_members, the Account Manager's per-member watermark (agents.md §6, §13)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_object, json_param, uuid_of


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


@dataclass(frozen=True)
class MemberPriority:
    """One row of a member's priorities, whatever its status: what the Account Manager ranks from."""

    id: UUID
    item_type: str
    item_id: UUID
    priority_rank: int
    value_score: float | None
    status: str
    content: str | None
    metadata: dict[str, Any]
    presentation_count: int
    last_presented_at: datetime | None
    item_summary: str | None
    expires_at: datetime | None
    score_source: str | None
    score_fingerprint: str | None
    score_reason: str | None
    scored_at: datetime | None
    created_at: datetime

    @property
    def key(self) -> tuple[str, UUID]:
        return (self.item_type, self.item_id)


@dataclass(frozen=True)
class RankedPriority:
    """One priority to write (insert or update on member, item type and item id)."""

    priority_rank: int
    item_type: str
    item_id: UUID
    value_score: float | None
    status: str
    content: str | None
    presentation_count: int
    last_presented_at: datetime | None
    item_summary: str | None
    item_primary_name: str | None
    item_secondary_name: str | None
    item_context: str | None
    item_metadata: dict[str, Any] | None
    expires_at: datetime | None
    score_source: str
    score_fingerprint: str
    score_reason: str | None
    scored_at: datetime


@dataclass(frozen=True)
class ManagedMember:
    """A member as the Account Manager scores them, with the watermark of its last run (None: never run)."""

    id: UUID
    verified: bool
    opted_out: bool
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    expertise: tuple[str, ...]
    poc_agent_type: str | None
    goal: str | None
    events_read_until: datetime | None
    runs: int
    answers_given: int


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

    # --- The Account Manager's writes and reads (agents.md §6) ----------------------------------

    def of_member(self, user_id: UUID) -> list[MemberPriority]:
        """Every priority row of the member, whatever its status, by rank."""
        return [_member_priority(r) for r in self._sql.all("priorities_of_member", user_id=user_id)]

    def write(self, user_id: UUID, rows: Sequence[RankedPriority]) -> None:
        """Write ranked rows in one statement; a presented or clarifying row keeps its status."""
        if rows:
            self._sql.run("priorities_write", user_id=user_id, rows=json_param([asdict(r) for r in rows]))

    def set_status(self, user_id: UUID, ids: Sequence[UUID], status: str) -> int:
        """Move some of the member's priorities to ``status``; returns how many changed."""
        if not ids:
            return 0
        return self._sql.run("priorities_set_status", user_id=user_id, ids=list(ids), status=status)

    def delete(self, user_id: UUID, ids: Sequence[UUID]) -> int:
        """Remove some of the member's priorities; returns how many."""
        if not ids:
            return 0
        return self._sql.run("priorities_delete", user_id=user_id, ids=list(ids))

    def delete_for_items(self, item_type: str, item_ids: Sequence[UUID]) -> list[UUID]:
        """Remove every member's priority for these items; returns whose lists changed (one per row)."""
        rows = self._sql.all("priorities_delete_items", item_type=item_type, ids=list(item_ids))
        return [uuid_of(r["user_id"]) for r in rows]

    # --- account_manager_members: the watermark --------------------------------------------------

    def managed_member(self, user_id: UUID) -> ManagedMember | None:
        """The member with their watermark; None when there is no such user."""
        r = self._sql.one("account_manager_member", user_id=user_id)
        if r is None:
            return None
        return ManagedMember(
            id=uuid_of(r["id"]),
            verified=bool(r["verified"]),
            opted_out=bool(r["opted_out"]),
            first_name=r["first_name"],
            last_name=r["last_name"],
            company=r["company"],
            title=r["title"],
            expertise=tuple(r["expertise"] or ()),
            poc_agent_type=r["poc_agent_type"],
            goal=r["goal"],
            events_read_until=r["events_read_until"],
            runs=int(r["runs"] or 0),
            answers_given=int(r["answers_given"] or 0),
        )

    def advance_watermark(
        self, user_id: UUID, *, events_read_until: datetime | None, now: datetime, trigger: str
    ) -> None:
        """Record a run: the watermark only moves forward; the run counter and trigger are kept."""
        self._sql.run(
            "account_manager_member_advance",
            user_id=user_id,
            events_read_until=events_read_until,
            now=now,
            trigger=trigger,
        )

    def schedule_reviews(
        self, *, now: datetime, created_by: str, task_type: str, agent_type: str, max_retries: int
    ) -> list[UUID]:
        """One review task per verified member with events since their watermark (other than
        ``created_by``'s own) or a live priority past its expiry; one pending per member. Returns
        the members scheduled now."""
        rows = self._sql.all(
            "account_manager_schedule_reviews",
            now=now,
            own=created_by,
            task_type=task_type,
            agent_type=agent_type,
            max_retries=max_retries,
        )
        return [uuid_of(r["user_id"]) for r in rows]


def _member_priority(r: Mapping[str, Any]) -> MemberPriority:
    return MemberPriority(
        id=uuid_of(r["id"]),
        item_type=r["item_type"],
        item_id=uuid_of(r["item_id"]),
        priority_rank=int(r["priority_rank"]),
        value_score=None if r["value_score"] is None else float(r["value_score"]),
        status=r["status"],
        content=r["content"],
        metadata=json_object(r["metadata"]),
        presentation_count=int(r["presentation_count"] or 0),
        last_presented_at=r["last_presented_at"],
        item_summary=r["item_summary"],
        expires_at=r["expires_at"],
        score_source=r["score_source"],
        score_fingerprint=r["score_fingerprint"],
        score_reason=r["score_reason"],
        scored_at=r["scored_at"],
        created_at=r["created_at"],
    )
