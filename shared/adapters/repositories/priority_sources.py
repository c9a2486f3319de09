"""The rows a member's priorities are built from (agents.md §6): open intro opportunities,
connection requests, intro offers, community requests routed to an expert, finished research,
the community responses pinned for a requester or an expert, and the source-side transitions
the Account Manager makes (siblings paused or cancelled, single-owner sources made dormant).

A read model across the intro-flow and community tables, as the Account Manager ranks them; the
named queries are in ``sql/priorities.sql`` with the priorities themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_of, uuid_or_none

# Item types whose status ``statuses`` reads from a source row (others have no source table).
SOURCE_ITEM_TYPES = (
    "intro_opportunity",
    "connection_request",
    "intro_offer",
    "community_request",
    "community_response",
    "solution_update",
)


@dataclass(frozen=True)
class OpenIntroOpportunity:
    """An intro opportunity where the member is the connector, open and not dormant."""

    id: UUID
    first_name: str
    last_name: str
    prospect_company: str | None
    prospect_title: str | None
    innovator_name: str | None
    intro_context: str | None
    bounty_credits: int
    connection_strength: str
    status: str
    presentation_count: int
    last_presented_at: datetime | None
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class OpenConnectionRequest:
    """A connection request where the member is the introducee, open, not expired, not dormant."""

    id: UUID
    requestor_name: str | None
    requestor_company: str | None
    requestor_title: str | None
    intro_context: str | None
    vouched_by_user_ids: tuple[UUID, ...]
    requestor_credits_spent: int
    bounty_credits: int
    status: str
    presentation_count: int
    last_presented_at: datetime | None
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class OpenIntroOffer:
    """An intro offer waiting on the member, as introducee (step 1) or as the offering connector (step 2)."""

    id: UUID
    role: str  # 'introducee' | 'connector'
    prospect_name: str | None
    prospect_company: str | None
    prospect_title: str | None
    prospect_context: str | None
    context_type: str
    bounty_credits: int
    status: str
    offering_name: str | None
    introducee_name: str | None
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class OpenCommunityRequest:
    """An open ask routed to the member as an expert (or named by a task), not answered by them."""

    id: UUID
    question: str
    category: str | None
    expertise_needed: tuple[str, ...]
    urgency: str
    request_summary: str | None
    status: str
    presentation_count: int
    last_presented_at: datetime | None
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class FinishedResearch:
    """A solution workflow of the member's that completed recently."""

    id: UUID
    request_description: str
    category: str | None
    urgency: str | None
    completed_at: datetime
    matched_innovators: int  # how many solutions the research matched


@dataclass(frozen=True)
class SourceStatus:
    """The current status of the row behind a priority (a missing row: deleted)."""

    item_type: str
    item_id: UUID
    status: str
    presentation_count: int

    @property
    def key(self) -> tuple[str, UUID]:
        return (self.item_type, self.item_id)


@dataclass(frozen=True)
class RequestOfResponse:
    """A community request with its requester (community.response_received)."""

    id: UUID
    requesting_user_id: UUID | None
    requesting_agent_type: str | None
    question: str
    category: str | None
    status: str


@dataclass(frozen=True)
class PinnedResponse:
    """A community response with its request (community_response_available, notify_expert_of_impact)."""

    id: UUID
    request_id: UUID
    expert_user_id: UUID
    response_text: str | None
    usefulness_score: int | None
    impact_description: str | None
    credits_awarded: int
    requesting_user_id: UUID | None
    question: str
    category: str | None
    expert_first_name: str | None = None


@dataclass(frozen=True)
class SiblingTransition:
    """Another connector's opportunity, moved because this member accepted (paused) or completed
    (cancelled) an intro of the same prospect."""

    id: UUID
    connector_user_id: UUID
    status: str  # 'paused' | 'cancelled'


class PrioritySourceRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    # --- Candidates ----------------------------------------------------------------------------

    def intro_opportunities_for_connector(
        self, user_id: UUID, *, now: datetime, dormant_after: int
    ) -> list[OpenIntroOpportunity]:
        rows = self._sql.all(
            "intro_opportunities_open_for_connector", user_id=user_id, now=now, dormant_after=dormant_after
        )
        return [
            OpenIntroOpportunity(
                id=uuid_of(r["id"]),
                first_name=r["first_name"] or "",
                last_name=r["last_name"] or "",
                prospect_company=r["prospect_company"],
                prospect_title=r["prospect_title"],
                innovator_name=r["innovator_name"],
                intro_context=r["intro_context"],
                bounty_credits=int(r["bounty_credits"]),
                connection_strength=r["connection_strength"],
                status=r["status"],
                presentation_count=int(r["presentation_count"]),
                last_presented_at=r["last_presented_at"],
                created_at=r["created_at"],
                expires_at=r["expires_at"],
            )
            for r in rows
        ]

    def connection_requests_for_introducee(
        self, user_id: UUID, *, now: datetime, dormant_after: int
    ) -> list[OpenConnectionRequest]:
        rows = self._sql.all(
            "connection_requests_open_for_introducee", user_id=user_id, now=now, dormant_after=dormant_after
        )
        return [
            OpenConnectionRequest(
                id=uuid_of(r["id"]),
                requestor_name=r["requestor_name"],
                requestor_company=r["requestor_company"],
                requestor_title=r["requestor_title"],
                intro_context=r["intro_context"],
                vouched_by_user_ids=tuple(uuid_of(v) for v in r["vouched_by_user_ids"] or ()),
                requestor_credits_spent=int(r["requestor_credits_spent"]),
                bounty_credits=int(r["bounty_credits"]),
                status=r["status"],
                presentation_count=int(r["presentation_count"]),
                last_presented_at=r["last_presented_at"],
                created_at=r["created_at"],
                expires_at=r["expires_at"],
            )
            for r in rows
        ]

    def intro_offers_for_member(self, user_id: UUID, *, now: datetime) -> list[OpenIntroOffer]:
        rows = self._sql.all("intro_offers_open_for_member", user_id=user_id, now=now)
        return [
            OpenIntroOffer(
                id=uuid_of(r["id"]),
                role=r["role"],
                prospect_name=r["prospect_name"],
                prospect_company=r["prospect_company"],
                prospect_title=r["prospect_title"],
                prospect_context=r["prospect_context"],
                context_type=r["context_type"],
                bounty_credits=int(r["bounty_credits"]),
                status=r["status"],
                offering_name=r["offering_name"],
                introducee_name=r["introducee_name"],
                created_at=r["created_at"],
                expires_at=r["expires_at"],
            )
            for r in rows
        ]

    def community_requests_for_expert(
        self, user_id: UUID, *, now: datetime, dormant_after: int, named_ids: Sequence[UUID]
    ) -> list[OpenCommunityRequest]:
        rows = self._sql.all(
            "community_requests_open_for_expert",
            user_id=user_id,
            now=now,
            dormant_after=dormant_after,
            named_ids=list(named_ids),
        )
        return [
            OpenCommunityRequest(
                id=uuid_of(r["id"]),
                question=r["question"],
                category=r["category"],
                expertise_needed=tuple(r["expertise_needed"] or ()),
                urgency=r["urgency"],
                request_summary=r["request_summary"],
                status=r["status"],
                presentation_count=int(r["presentation_count"]),
                last_presented_at=r["last_presented_at"],
                created_at=r["created_at"],
                expires_at=r["expires_at"],
            )
            for r in rows
        ]

    def research_finished_for_member(self, user_id: UUID, *, since: datetime) -> list[FinishedResearch]:
        rows = self._sql.all("solution_updates_for_member", user_id=user_id, since=since)
        return [
            FinishedResearch(
                id=uuid_of(r["id"]),
                request_description=r["request_description"],
                category=r["category"],
                urgency=r["urgency"],
                completed_at=r["completed_at"],
                matched_innovators=(
                    len(r["matched_innovators"]) if isinstance(r["matched_innovators"], list) else 0
                ),
            )
            for r in rows
        ]

    # --- What became of the sources ------------------------------------------------------------

    def statuses(self, ids_by_type: Mapping[str, Sequence[UUID]]) -> dict[tuple[str, UUID], SourceStatus]:
        """The status of the rows behind these items, by (item type, item id); a deleted row is
        absent. Item types without a source table are ignored."""
        if not any(ids_by_type.get(t) for t in SOURCE_ITEM_TYPES):
            return {}
        params = {f"{t}_ids": list(ids_by_type.get(t, ())) for t in SOURCE_ITEM_TYPES}
        out: dict[tuple[str, UUID], SourceStatus] = {}
        for r in self._sql.all("priority_sources", **params):
            s = SourceStatus(
                item_type=r["item_type"],
                item_id=uuid_of(r["item_id"]),
                status=r["status"],
                presentation_count=int(r["presentation_count"] or 0),
            )
            out[s.key] = s
        return out

    def members_of_intro_items(self, item_ids: Sequence[UUID]) -> list[UUID]:
        """The members intro-flow rows concern (connector, introducee, offering member)."""
        if not item_ids:
            return []
        rows = self._sql.all("members_of_intro_items", ids=[str(i) for i in item_ids])
        return [uuid_of(r["user_id"]) for r in rows if r["user_id"] is not None]

    def community_request(self, request_id: UUID) -> RequestOfResponse | None:
        r = self._sql.one("community_request_by_id", request_id=request_id)
        if r is None:
            return None
        return RequestOfResponse(
            id=uuid_of(r["id"]),
            requesting_user_id=uuid_or_none(r["requesting_user_id"]),
            requesting_agent_type=r["requesting_agent_type"],
            question=r["question"],
            category=r["category"],
            status=r["status"],
        )

    def community_response(self, response_id: UUID) -> PinnedResponse | None:
        r = self._sql.one("community_response_by_id", response_id=response_id)
        if r is None:
            return None
        return PinnedResponse(
            id=uuid_of(r["id"]),
            request_id=uuid_of(r["request_id"]),
            expert_user_id=uuid_of(r["expert_user_id"]),
            response_text=r["response_text"],
            usefulness_score=r["usefulness_score"],
            impact_description=r["impact_description"],
            credits_awarded=int(r["credits_awarded"] or 0),
            requesting_user_id=uuid_or_none(r["requesting_user_id"]),
            question=r["question"],
            category=r["category"],
            expert_first_name=r["expert_first_name"],
        )

    # --- Source-side transitions -----------------------------------------------------------------

    def mark_intro_sources_dormant(
        self, *, intro_opportunity_ids: Sequence[UUID], connection_request_ids: Sequence[UUID], now: datetime
    ) -> int:
        """Single-owner source rows presented twice with no answer become dormant; returns how many."""
        marked = self._sql.scalar(
            "intro_sources_mark_dormant",
            now=now,
            intro_opportunity_ids=list(intro_opportunity_ids),
            connection_request_ids=list(connection_request_ids),
        )
        return int(marked or 0)

    def transition_sibling_opportunities(self, user_id: UUID) -> list[SiblingTransition]:
        """Other connectors' opportunities for a prospect this member accepted (paused) or
        completed (cancelled)."""
        rows = self._sql.all("intro_opportunities_transition_siblings", user_id=user_id)
        return [
            SiblingTransition(
                id=uuid_of(r["id"]), connector_user_id=uuid_of(r["connector_user_id"]), status=r["status"]
            )
            for r in rows
        ]
