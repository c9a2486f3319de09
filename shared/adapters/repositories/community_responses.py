"""community_responses: an expert's answer to a community request, its score and its reward
(agents.md §8.7-8.12; decisions B8, B18). Named queries in ``shared/adapters/sql/community_responses.sql``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_of


@dataclass(frozen=True)
class RecordedResponse:
    id: UUID
    created: bool  # False: the expert had answered this request before; ``id`` is that answer


@dataclass(frozen=True)
class LockedResponse:
    """A response with its request's question and the expert's first name, row-locked."""

    id: UUID
    request_id: UUID
    user_id: UUID  # the expert
    response_text: str  # the summary
    verbatim_answer: str | None
    usefulness_score: int | None
    impact_description: str | None
    credits_awarded: int
    status: str
    scored_by: str | None
    question: str
    category: str | None
    requesting_agent_type: str
    expert_first_name: str | None


class CommunityResponseRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(
        self, request_id: UUID, user_id: UUID, *, response_text: str, verbatim_answer: str, now: datetime
    ) -> RecordedResponse:
        """Store the expert's answer once per request; a second answer returns the first."""
        row = self._sql.one(
            "community_responses_add",
            request_id=request_id,
            user_id=user_id,
            response_text=response_text,
            verbatim_answer=verbatim_answer,
            now=now,
        )
        if row is not None:
            return RecordedResponse(uuid_of(row["id"]), created=True)
        existing = self._sql.one("community_responses_of", request_id=request_id, user_id=user_id)
        if existing is None:  # pragma: no cover - the conflicting row was deleted in between
            raise LookupError(f"response of {user_id} to {request_id} conflicted but no row holds it")
        return RecordedResponse(uuid_of(existing["id"]), created=False)

    def lock(self, response_id: UUID) -> LockedResponse | None:
        row = self._sql.one("community_responses_lock", response_id=response_id)
        if row is None:
            return None
        return LockedResponse(
            id=uuid_of(row["id"]),
            request_id=uuid_of(row["request_id"]),
            user_id=uuid_of(row["user_id"]),
            response_text=row["response_text"],
            verbatim_answer=row["verbatim_answer"],
            usefulness_score=None if row["usefulness_score"] is None else int(row["usefulness_score"]),
            impact_description=row["impact_description"],
            credits_awarded=int(row["credits_awarded"] or 0),
            status=row["status"],
            scored_by=row["scored_by"],
            question=row["question"],
            category=row["category"],
            requesting_agent_type=row["requesting_agent_type"],
            expert_first_name=row["expert_first_name"],
        )

    def score(self, response_id: UUID, *, score: int, impact: str, scored_by: str, now: datetime) -> bool:
        """Store the usefulness score once; False when it was scored before."""
        row = self._sql.one(
            "community_responses_score",
            response_id=response_id,
            score=score,
            impact=impact,
            scored_by=scored_by,
            now=now,
        )
        return row is not None

    def reward(self, response_id: UUID, *, credits: int, now: datetime) -> bool:
        """Record the credits paid and move the response to rewarded (from provided only)."""
        return (
            self._sql.one("community_responses_reward", response_id=response_id, credits=credits, now=now)
            is not None
        )

    def close_for_request(self, request_id: UUID, *, now: datetime) -> int:
        """Every response of a finished request moves to closed_loop; returns how many moved."""
        return self._sql.run("community_responses_close_for_request", request_id=request_id, now=now)
