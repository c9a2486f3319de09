"""re_engagement_state and the member's re-engagement sends (decisions B5, agents.md §4.8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_of
from shared.domain.reengagement import SentReEngagement


@dataclass(frozen=True)
class ReEngagementState:
    user_id: UUID
    paused_at: datetime | None
    pause_reason: str | None
    unanswered: int
    resumed_at: datetime | None
    resumed_by: str | None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True)
class PausedMember:
    user_id: UUID
    phone_number: str
    name: str
    paused_at: datetime
    pause_reason: str | None
    unanswered: int


class ReEngagementRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def sends(self, user_id: UUID, *, since: datetime, now: datetime) -> list[SentReEngagement]:
        """The member's re-engagement sends in (since, now], newest first, answered or not."""
        rows = self._sql.all("re_engagement_sends", user_id=user_id, since=since, now=now)
        return [SentReEngagement(at=r["created_at"], answered=bool(r["answered"])) for r in rows]

    def state(self, user_id: UUID) -> ReEngagementState | None:
        r = self._sql.one("re_engagement_state_get", user_id=user_id)
        if r is None:
            return None
        return ReEngagementState(
            user_id=uuid_of(r["user_id"]),
            paused_at=r["paused_at"],
            pause_reason=r["pause_reason"],
            unanswered=int(r["unanswered"]),
            resumed_at=r["resumed_at"],
            resumed_by=r["resumed_by"],
        )

    def pause(self, user_id: UUID, *, now: datetime, unanswered: int, reason: str) -> datetime:
        """Pause the member (idempotent: an existing pause keeps its time); the pause time."""
        row = self._sql.one(
            "re_engagement_pause", user_id=user_id, now=now, unanswered=unanswered, reason=reason
        )
        assert row is not None
        paused_at: datetime = row["paused_at"]
        return paused_at

    def resume(self, user_id: UUID, *, now: datetime, resumed_by: str) -> bool:
        """Lift the member's pause; False when they were not paused."""
        return (
            self._sql.one("re_engagement_resume", user_id=user_id, now=now, resumed_by=resumed_by) is not None
        )

    def paused_members(self, *, limit: int) -> list[PausedMember]:
        return [
            PausedMember(
                user_id=uuid_of(r["user_id"]),
                phone_number=r["phone_number"],
                name=" ".join(p for p in (r["first_name"], r["last_name"]) if p) or "-",
                paused_at=r["paused_at"],
                pause_reason=r["pause_reason"],
                unanswered=int(r["unanswered"]),
            )
            for r in self._sql.all("re_engagement_paused_members", limit=limit)
        ]
