"""community_requests: questions members put to the community (agents.md §4.2, §4.3.9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_of


@dataclass(frozen=True)
class CommunityRequest:
    id: UUID
    question: str
    request_summary: str | None
    category: str | None
    status: str
    created_at: datetime

    @property
    def described(self) -> str:
        return self.request_summary or self.question


@dataclass(frozen=True)
class CancelledRequest:
    id: UUID
    question: str
    request_summary: str | None

    @property
    def described(self) -> str:
        return self.request_summary or self.question


class CommunityRequestRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def open_for_user(self, user_id: UUID, *, limit: int) -> list[CommunityRequest]:
        """The member's own requests that are still open, newest first."""
        return [
            CommunityRequest(
                id=uuid_of(r["id"]),
                question=r["question"],
                request_summary=r["request_summary"],
                category=r["category"],
                status=r["status"],
                created_at=r["created_at"],
            )
            for r in self._sql.all("community_requests_open_for_user", user_id=user_id, limit=limit)
        ]

    def own_open(self, user_id: UUID, *, request_id: UUID | None, pattern: str) -> list[CancelledRequest]:
        """The member's own open requests they still wait on: ``request_id``, else those matching
        ``pattern``."""
        rows = self._sql.all(
            "community_requests_own_open_for_user", user_id=user_id, request_id=request_id, pattern=pattern
        )
        return [CancelledRequest(uuid_of(r["id"]), r["question"], r["request_summary"]) for r in rows]
