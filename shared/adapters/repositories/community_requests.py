"""community_requests and what hangs off one request: the members waiting on it
(community_request_requesters), the experts asked (community_request_experts) and the items left
for an operator (community_operator_review) (agents.md §4.2, §4.3.9, §7, §8; decisions B18).

Named queries in ``shared/adapters/sql/community.sql``. Answers are in ``community_responses.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import json_param, uuid_of, uuid_or_none
from shared.domain.community import Candidate
from shared.domain.constants import COMMUNITY_MIN_OVERLAP_SHARE


@dataclass(frozen=True)
class CommunityRequest:
    id: UUID
    question: str
    request_summary: str | None
    category: str | None
    status: str
    created_at: datetime
    experts_asked: int = 0  # members the request was routed to (none yet: see route_waiting_requests)

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


@dataclass(frozen=True)
class NewCommunityRequest:
    """A request as the Agent of Humans inserts it (status 'open')."""

    requesting_agent_type: str
    requesting_user_id: UUID
    context_id: UUID | None
    context_type: str | None
    question: str
    category: str | None
    expertise_needed: tuple[str, ...]
    target_user_ids: tuple[UUID, ...]
    requester_context: str | None
    desired_outcome: str | None
    urgency: str
    request_summary: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class InsertedRequest:
    id: UUID
    expires_at: datetime


@dataclass(frozen=True)
class LockedRequest:
    """One request, row-locked for a state change."""

    id: UUID
    requesting_agent_type: str
    requesting_user_id: UUID | None
    question: str
    category: str | None
    expertise_needed: tuple[str, ...]
    target_user_ids: tuple[UUID, ...]
    status: str
    responses_count: int
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> LockedRequest:
        return cls(
            id=uuid_of(row["id"]),
            requesting_agent_type=row["requesting_agent_type"],
            requesting_user_id=uuid_or_none(row["requesting_user_id"]),
            question=row["question"],
            category=row["category"],
            expertise_needed=tuple(row["expertise_needed"] or ()),
            target_user_ids=tuple(uuid_of(u) for u in row["target_user_ids"] or ()),
            status=row["status"],
            responses_count=int(row["responses_count"] or 0),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )


@dataclass(frozen=True)
class OpenDuplicate:
    """An open request that absorbs a new, overlapping question."""

    id: UUID
    target_user_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Requester:
    """A member whose question a request answers, and the agent that asked for them."""

    user_id: UUID
    requesting_agent_type: str
    context_id: UUID | None
    context_type: str | None
    question: str


@dataclass(frozen=True)
class DueRequest:
    """An open request the closure job looks at: expired, or with answers."""

    id: UUID
    status: str
    expires_at: datetime
    responses_count: int
    ask_statuses: tuple[str, ...]


@dataclass(frozen=True)
class ReviewItem:
    id: UUID
    kind: str
    request_id: UUID | None
    user_id: UUID | None
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class ReportRow:
    """``ops community``: one UTC day and category."""

    day: date
    category: str
    requests: int
    answered: int
    median_minutes_to_first_answer: float | None
    mean_usefulness: float | None
    credits_paid: int


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


class CommunityRequestRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    # --- the member's own requests (the Concierge) ------------------------------------------

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
                experts_asked=int(r["experts_asked"]),
            )
            for r in self._sql.all("community_requests_open_for_user", user_id=user_id, limit=limit)
        ]

    def questions(self, ids: Sequence[UUID]) -> dict[UUID, str]:
        """The whole question of each request, by id (an id with no request is left out)."""
        if not ids:
            return {}
        rows = self._sql.all("community_questions", ids=list(ids))
        return {uuid_of(r["id"]): r["question"] for r in rows}

    def own_open(self, user_id: UUID, *, request_id: UUID | None, pattern: str) -> list[CancelledRequest]:
        """The member's own open requests they still wait on: ``request_id``, else those matching
        ``pattern``."""
        rows = self._sql.all(
            "community_requests_own_open_for_user", user_id=user_id, request_id=request_id, pattern=pattern
        )
        return [CancelledRequest(uuid_of(r["id"]), r["question"], r["request_summary"]) for r in rows]

    # --- routing --------------------------------------------------------------------------------

    def lock_category(self, category: str | None) -> None:
        """Serialise de-duplication in one category until the transaction ends."""
        self._sql.one("community_lock_category", category=category)

    def open_duplicate(
        self,
        *,
        statuses: Sequence[str],
        category: str | None,
        expertise: Sequence[str],
        since: datetime,
        now: datetime,
    ) -> OpenDuplicate | None:
        """The newest open request in ``category`` with overlapping expertise since ``since``, locked."""
        row = self._sql.one(
            "community_find_duplicate",
            statuses=list(statuses),
            category=category,
            expertise=list(expertise),
            since=since,
            now=now,
        )
        if row is None:
            return None
        return OpenDuplicate(uuid_of(row["id"]), tuple(uuid_of(u) for u in row["target_user_ids"] or ()))

    def match_experts(
        self,
        expertise: Sequence[str],
        *,
        exclude: Sequence[UUID],
        now: datetime,
        limit: int,
        min_share: float = COMMUNITY_MIN_OVERLAP_SHARE,
    ) -> list[Candidate]:
        """Verified members whose expertise overlaps (whole tags and their words), with at least
        ``min_share`` of the best overlap, ranked, with their asks of the last two days."""
        return [
            Candidate(
                user_id=uuid_of(r["user_id"]),
                overlap=int(r["overlap"]),
                recent_asks=tuple(r["recent_asks"] or ()),
                timezone=r["timezone"],
                quiet_hours_start=r["quiet_hours_start"],
                quiet_hours_end=r["quiet_hours_end"],
            )
            for r in self._sql.all(
                "community_match_experts",
                expertise=list(expertise),
                exclude=list(exclude),
                now=now,
                limit=limit,
                min_share=min_share,
            )
        ]

    def add(self, request: NewCommunityRequest) -> InsertedRequest:
        row = self._sql.one(
            "community_insert_request",
            requesting_agent_type=request.requesting_agent_type,
            requesting_user_id=request.requesting_user_id,
            context_id=request.context_id,
            context_type=request.context_type,
            question=request.question,
            category=request.category,
            expertise_needed=list(request.expertise_needed),
            target_user_ids=list(request.target_user_ids),
            requester_context=request.requester_context,
            desired_outcome=request.desired_outcome,
            urgency=request.urgency,
            request_summary=request.request_summary,
            now=request.created_at,
            expires_at=request.expires_at,
        )
        assert row is not None  # an INSERT without ON CONFLICT returns its row
        return InsertedRequest(uuid_of(row["id"]), row["expires_at"])

    def add_targets(self, request_id: UUID, expert_ids: Sequence[UUID]) -> None:
        self._sql.run("community_add_targets", request_id=request_id, expert_ids=list(expert_ids))

    def waiting_for_experts(
        self, *, statuses: Sequence[str], now: datetime, limit: int
    ) -> list[LockedRequest]:
        """Open requests that have asked no expert yet, oldest first, row-locked (others skipped)."""
        rows = self._sql.all("community_waiting_for_experts", statuses=list(statuses), now=now, limit=limit)
        return [LockedRequest.from_row(r) for r in rows]

    def lock(self, request_id: UUID) -> LockedRequest | None:
        row = self._sql.one("community_lock_request", request_id=request_id)
        return None if row is None else LockedRequest.from_row(row)

    # --- requesters -----------------------------------------------------------------------------

    def add_requester(
        self, request_id: UUID, requester: Requester, *, source_event_id: UUID | None, now: datetime
    ) -> bool:
        """False when the member is already on the request through this agent (or this source event is)."""
        row = self._sql.one(
            "community_add_requester",
            request_id=request_id,
            user_id=requester.user_id,
            requesting_agent_type=requester.requesting_agent_type,
            context_id=requester.context_id,
            context_type=requester.context_type,
            question=requester.question,
            source_event_id=source_event_id,
            now=now,
        )
        return row is not None

    def requesters(self, request_id: UUID) -> list[Requester]:
        """The members still waiting on the request, first asker first."""
        return [
            Requester(
                user_id=uuid_of(r["user_id"]),
                requesting_agent_type=r["requesting_agent_type"],
                context_id=uuid_or_none(r["context_id"]),
                context_type=r["context_type"],
                question=r["question"],
            )
            for r in self._sql.all("community_requesters", request_id=request_id)
        ]

    def cancel_requester(
        self, request_id: UUID, user_id: UUID, *, now: datetime, requesting_agent_type: str | None = None
    ) -> bool:
        """Withdraw the member (through one requesting agent, or every one when None). False when
        the member was not waiting on the request that way."""
        rows = self._sql.all(
            "community_cancel_requester",
            request_id=request_id,
            user_id=user_id,
            now=now,
            requesting_agent_type=requesting_agent_type,
        )
        return bool(rows)

    # --- asks of experts ------------------------------------------------------------------------

    def add_ask(
        self, request_id: UUID, expert_id: UUID, *, now: datetime, referred_by: UUID | None = None
    ) -> bool:
        """Record that the expert was asked; False when they already were."""
        row = self._sql.one(
            "community_insert_ask",
            request_id=request_id,
            expert_user_id=expert_id,
            now=now,
            referred_by_user_id=referred_by,
        )
        return row is not None

    def record_reply(
        self,
        request_id: UUID,
        expert_id: UUID,
        *,
        status: str,
        now: datetime,
        referral_name: str | None = None,
        referred_user_id: UUID | None = None,
    ) -> bool:
        """The expert answered, passed or referred. Someone never asked (a forwarded question) gets
        an ask row first. False when the ask was already settled (a reply counts once)."""
        self.add_ask(request_id, expert_id, now=now)
        return self._settle_ask(
            request_id,
            expert_id,
            status=status,
            now=now,
            referral_name=referral_name,
            referred_user_id=referred_user_id,
        )

    def withdraw_ask(self, request_id: UUID, expert_id: UUID, *, now: datetime) -> bool:
        """An open ask of this member as an expert, settled as a pass (without penalty); False when
        they were not asked, or already replied. Never adds an ask row (``record_reply`` does)."""
        return self._settle_ask(request_id, expert_id, status="passed", now=now)

    def _settle_ask(
        self,
        request_id: UUID,
        expert_id: UUID,
        *,
        status: str,
        now: datetime,
        referral_name: str | None = None,
        referred_user_id: UUID | None = None,
    ) -> bool:
        """An ask still 'asked' moves to ``status``; False when there is none to move."""
        row = self._sql.one(
            "community_set_ask_status",
            request_id=request_id,
            expert_user_id=expert_id,
            status=status,
            now=now,
            referral_name=referral_name,
            referred_user_id=referred_user_id,
        )
        return row is not None

    def count_response(self, request_id: UUID) -> None:
        """One more answer: count it and move the request to responses_received."""
        self._sql.one("community_count_response", request_id=request_id)

    # --- operator review ------------------------------------------------------------------------

    def add_review(
        self, kind: str, request_id: UUID, user_id: UUID, detail: str, payload: dict[str, Any]
    ) -> UUID:
        row = self._sql.one(
            "community_insert_review",
            kind=kind,
            request_id=request_id,
            user_id=user_id,
            detail=detail,
            payload=json_param(payload),
        )
        assert row is not None
        return uuid_of(row["id"])

    def open_review(self, *, limit: int) -> list[ReviewItem]:
        """Operator items not yet resolved, oldest first."""
        return [
            ReviewItem(
                id=uuid_of(r["id"]),
                kind=r["kind"],
                request_id=uuid_or_none(r["request_id"]),
                user_id=uuid_or_none(r["user_id"]),
                detail=r["detail"],
                created_at=r["created_at"],
            )
            for r in self._sql.all("community_open_review", limit=limit)
        ]

    # --- closure --------------------------------------------------------------------------------

    def due_for_closure(self, *, statuses: Sequence[str], now: datetime, limit: int) -> list[DueRequest]:
        """Open requests that are expired or have answers, locked (others' locked rows skipped)."""
        return [
            DueRequest(
                id=uuid_of(r["id"]),
                status=r["status"],
                expires_at=r["expires_at"],
                responses_count=int(r["responses_count"] or 0),
                ask_statuses=tuple(r["ask_statuses"] or ()),
            )
            for r in self._sql.all("community_due_for_closure", statuses=list(statuses), now=now, limit=limit)
        ]

    def finish(self, request_id: UUID, *, status: str, now: datetime, message: str) -> int:
        """Close or cancel the request with the experts' thank-you line; returns its answer count."""
        row = self._sql.one(
            "community_finish_request", request_id=request_id, status=status, now=now, message=message
        )
        if row is None:
            raise LookupError(f"no community request {request_id}")
        return int(row["responses_count"] or 0)

    # --- the operators' report ------------------------------------------------------------------

    def daily_report(self, *, since: datetime) -> list[ReportRow]:
        """Per UTC day and category since ``since``, newest day first."""
        return [
            ReportRow(
                day=r["day"],
                category=r["category"],
                requests=int(r["requests"]),
                answered=int(r["answered"]),
                median_minutes_to_first_answer=_float(r["median_minutes_to_first_answer"]),
                mean_usefulness=_float(r["mean_usefulness"]),
                credits_paid=int(r["credits_paid"]),
            )
            for r in self._sql.all("community_report", since=since)
        ]

    def experts_over_cap(self, *, since: datetime, cap: int) -> dict[tuple[date, str], int]:
        """Per (UTC day, category): experts asked more often that day than ``cap``."""
        return {
            (r["day"], r["category"]): int(r["experts_over_cap"])
            for r in self._sql.all("community_report_over_cap", since=since, cap=cap)
        }
