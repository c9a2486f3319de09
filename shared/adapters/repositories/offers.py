"""What members bring: innovators (the company side of an innovator) and the three intro flows
(agents.md §12): intro offers (nominations included), intro opportunities and connection requests.

Every intro-flow method takes the acting member and only reads or changes a row addressed to them:
a row of someone else is simply not found (``None``), which the tools turn into a tool error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_param, uuid_of, uuid_or_none


@dataclass(frozen=True)
class NewNomination:
    """Someone a member puts forward (agents.md §2.5): an intro offer with no bounty."""

    user_id: UUID
    prospect_name: str
    prospect_company: str | None
    prospect_title: str | None
    prospect_context: str | None


@dataclass(frozen=True)
class NewIntroOffer:
    """offer_introduction (agents.md §12.4 step 1). ``introducee_user_id`` None: a nomination."""

    user_id: UUID
    introducee_user_id: UUID | None
    prospect_name: str
    prospect_company: str | None
    prospect_title: str | None
    prospect_context: str | None
    context_type: str  # community_request | connection_request | spontaneous | nomination
    context_id: UUID | None
    expires_at: datetime


@dataclass(frozen=True)
class OwnedIntro:
    """An intro-flow row as the acting member sees it; ``role`` for offers: introducee | connector."""

    id: UUID
    status: str
    role: str = ""


@dataclass(frozen=True)
class IntroAnswer:
    """An intro-flow row after the acting member's answer."""

    id: UUID
    status: str
    bounty_credits: int
    other_user_id: UUID | None  # the other member: innovator, requestor, offering member or introducee
    prospect_id: UUID | None = None
    context_type: str | None = None
    context_id: UUID | None = None


@dataclass(frozen=True)
class IntroParties:
    """An intro-flow row after a service transition (pause, cancel, complete, expire, remind): who it
    concerns. ``payee_user_id`` is who its bounty goes to (the connector of an opportunity or offer, the
    introducee of a connection request); ``other_user_id`` the other member side (innovator, introducee,
    requestor), None for a prospect."""

    kind: str  # intro_opportunity | intro_offer | connection_request
    id: UUID
    status: str
    payee_user_id: UUID | None
    other_user_id: UUID | None
    bounty_credits: int = 0
    prospect_name: str | None = None


@dataclass(frozen=True)
class MemberCard:
    """What each side of an introduction gets about the other once both accepted (decisions B17)."""

    id: UUID
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    email: str | None  # the verified email only

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or "A member"


@dataclass(frozen=True)
class OpportunityBrief:
    """An opportunity with what the Intro agent writes talking points from (agents.md §10)."""

    id: UUID
    status: str
    connector_user_id: UUID
    innovator_id: UUID | None
    prospect_name: str
    prospect_company: str | None
    prospect_title: str | None
    innovator_name: str | None
    innovator_company: str | None
    solution_description: str | None
    intro_context: str | None
    bounty_credits: int
    talking_points: str | None


@dataclass(frozen=True)
class ProspectRow:
    """A pending prospect an innovator uploaded, as matching reads it (agents.md §14)."""

    id: UUID
    innovator_id: UUID
    email: str | None
    phone: str | None
    linkedin_url: str | None
    first_name: str | None
    last_name: str | None
    company: str | None


@dataclass(frozen=True)
class ProspectReview:
    """A 40-69 match waiting for an operator."""

    id: UUID
    name: str
    company: str | None
    email: str | None
    innovator_id: UUID
    review: Any


@dataclass(frozen=True)
class ResearchTarget:
    """A prospect to research (agents.md §11), with the innovator's LinkedIn URL and name."""

    id: UUID
    innovator_id: UUID
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    email: str | None
    linkedin_url: str | None
    innovator_linkedin_url: str | None
    innovator_name: str | None


@dataclass(frozen=True)
class NewOpportunity:
    """An intro opportunity the system creates for a member who knows a prospect (§11 step 4)."""

    connector_user_id: UUID
    target: ResearchTarget
    intro_context: str
    bounty_credits: int
    expires_at: datetime


@dataclass(frozen=True)
class RoutedRequest:
    """A community request that reached the acting member as an expert, and who asked it."""

    id: UUID
    requesting_user_id: UUID | None
    status: str


@dataclass(frozen=True)
class NewConnectionRequest:
    """request_connection (agents.md §5 tool 5): the acting innovator asks to meet a member."""

    user_id: UUID
    target_user_id: UUID
    intro_context: str
    bounty_credits: int
    expires_at: datetime


@dataclass(frozen=True)
class InnovatorProfile:
    """A member's innovators row, as the Innovator agent sees it."""

    company_name: str | None
    solution_name: str | None
    solution_description: str | None
    categories: Any
    target_customer_profile: str | None
    pricing_model: str | None
    differentiation: str | None
    warm_intro_bounty: Any
    active: bool | None


@dataclass(frozen=True)
class InnovatorProfileUpdate:
    """update_innovator_profile's fields; None keeps a value."""

    solution_name: str | None = None
    solution_description: str | None = None
    target_customer_profile: str | None = None
    pricing_model: str | None = None
    differentiation: str | None = None


@dataclass(frozen=True)
class IntroProgress:
    """An innovator's intros of one kind (intro_opportunities, connection_requests) by stage."""

    kind: str
    pending: int
    accepted: int
    completed: int
    declined: int
    total: int


class InnovatorRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(self, user_id: UUID, company_name: str | None) -> bool:
        """The innovators row of a member approved as an innovator; False when it existed."""
        return self._sql.one("innovators_insert", user_id=user_id, company_name=company_name) is not None

    def profile(self, user_id: UUID) -> InnovatorProfile | None:
        row = self._sql.one("innovators_profile", user_id=user_id)
        if row is None:
            return None
        return InnovatorProfile(
            company_name=row["company_name"],
            solution_name=row["solution_name"],
            solution_description=row["solution_description"],
            categories=row["categories"],
            target_customer_profile=row["target_customer_profile"],
            pricing_model=row["pricing_model"],
            differentiation=row["differentiation"],
            warm_intro_bounty=row["warm_intro_bounty"],
            active=row["active"],
        )

    def update_profile(self, user_id: UUID, update: InnovatorProfileUpdate) -> bool:
        """The given fields of the member's own innovators row; False when they have none."""
        row = self._sql.one(
            "innovators_update_profile",
            user_id=user_id,
            solution_name=update.solution_name,
            solution_description=update.solution_description,
            target_customer_profile=update.target_customer_profile,
            pricing_model=update.pricing_model,
            differentiation=update.differentiation,
        )
        return row is not None

    def intro_progress(self, user_id: UUID) -> list[IntroProgress]:
        """The member's intro opportunities and connection requests, counted by stage."""
        return [
            IntroProgress(
                kind=str(r["kind"]),
                pending=int(r["pending"]),
                accepted=int(r["accepted"]),
                completed=int(r["completed"]),
                declined=int(r["declined"]),
                total=int(r["total"]),
            )
            for r in self._sql.all("innovators_intro_progress", user_id=user_id)
        ]


class IntroOfferRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add_nomination(self, nomination: NewNomination) -> UUID:
        row = self._sql.one(
            "intro_offers_insert_nomination",
            user_id=nomination.user_id,
            prospect_name=nomination.prospect_name,
            prospect_company=nomination.prospect_company,
            prospect_title=nomination.prospect_title,
            prospect_context=nomination.prospect_context,
        )
        assert row is not None
        return uuid_of(row["id"])

    # --- intro offers (agents.md §12.4) -------------------------------------------------------------

    def add_offer(self, offer: NewIntroOffer) -> OwnedIntro:
        row = self._sql.one(
            "intro_offers_insert",
            user_id=offer.user_id,
            introducee_user_id=offer.introducee_user_id,
            prospect_name=offer.prospect_name,
            prospect_company=offer.prospect_company,
            prospect_title=offer.prospect_title,
            prospect_context=offer.prospect_context,
            context_type=offer.context_type,
            context_id=offer.context_id,
            expires_at=offer.expires_at,
        )
        assert row is not None
        return OwnedIntro(uuid_of(row["id"]), row["status"])

    def offer_of(self, user_id: UUID, offer_id: UUID) -> OwnedIntro | None:
        row = self._sql.one("intro_offers_of_member", user_id=user_id, offer_id=offer_id)
        return None if row is None else OwnedIntro(uuid_of(row["id"]), row["status"], row["role"])

    def introducee_respond(
        self, user_id: UUID, offer_id: UUID, *, status: str, response: str | None, now: datetime
    ) -> IntroAnswer | None:
        row = self._sql.one(
            "intro_offers_introducee_respond",
            user_id=user_id,
            offer_id=offer_id,
            status=status,
            response=response,
            now=now,
        )
        return None if row is None else _offer_answer(row, other="offering_user_id")

    def connector_respond(
        self, user_id: UUID, offer_id: UUID, *, status: str, response: str | None, now: datetime
    ) -> IntroAnswer | None:
        row = self._sql.one(
            "intro_offers_connector_respond",
            user_id=user_id,
            offer_id=offer_id,
            status=status,
            response=response,
            now=now,
        )
        return None if row is None else _offer_answer(row, other="introducee_user_id")

    # --- intro opportunities (agents.md §12.2) -------------------------------------------------------

    def opportunity_of(self, user_id: UUID, opportunity_id: UUID) -> OwnedIntro | None:
        row = self._sql.one("intro_opportunities_of_member", user_id=user_id, opportunity_id=opportunity_id)
        return None if row is None else OwnedIntro(uuid_of(row["id"]), row["status"])

    def respond_opportunity(
        self, user_id: UUID, opportunity_id: UUID, *, status: str, response: str | None, now: datetime
    ) -> IntroAnswer | None:
        row = self._sql.one(
            "intro_opportunities_respond",
            user_id=user_id,
            opportunity_id=opportunity_id,
            status=status,
            response=response,
            now=now,
        )
        if row is None:
            return None
        return IntroAnswer(
            id=uuid_of(row["id"]),
            status=row["status"],
            bounty_credits=int(row["bounty_credits"]),
            other_user_id=uuid_or_none(row["innovator_id"]),
            prospect_id=uuid_or_none(row["prospect_id"]),
        )

    # --- connection requests (agents.md §12.3) ------------------------------------------------------

    def connection_request_of(self, user_id: UUID, request_id: UUID) -> OwnedIntro | None:
        row = self._sql.one("connection_requests_of_member", user_id=user_id, request_id=request_id)
        return None if row is None else OwnedIntro(uuid_of(row["id"]), row["status"])

    def respond_connection_request(
        self, user_id: UUID, request_id: UUID, *, status: str, response: str | None, now: datetime
    ) -> IntroAnswer | None:
        row = self._sql.one(
            "connection_requests_respond",
            user_id=user_id,
            request_id=request_id,
            status=status,
            response=response,
            now=now,
        )
        if row is None:
            return None
        return IntroAnswer(
            id=uuid_of(row["id"]),
            status=row["status"],
            bounty_credits=int(row["bounty_credits"]),
            other_user_id=uuid_or_none(row["requestor_user_id"]),
            prospect_id=uuid_or_none(row["requestor_prospect_id"]),
        )

    def connection_requestor(self, user_id: UUID, request_id: UUID) -> OwnedIntro | None:
        """The open connection request the member is the introducee of; ``id`` is its requestor (a
        member), or None when the request is not theirs (a prospect's request has no member to offer to)."""
        row = self._sql.one("connection_requests_requestor_of", user_id=user_id, request_id=request_id)
        if row is None or row["requestor_user_id"] is None:
            return None
        return OwnedIntro(uuid_of(row["requestor_user_id"]), "open")

    def add_connection_request(self, new: NewConnectionRequest) -> tuple[UUID, bool] | None:
        """(id, created): a new request, or the open one the member already has to that member; None when
        the target is not a verified, reachable member other than themselves."""
        row = self._sql.one(
            "connection_requests_insert",
            user_id=new.user_id,
            target_user_id=new.target_user_id,
            intro_context=new.intro_context,
            bounty_credits=new.bounty_credits,
            expires_at=new.expires_at,
        )
        if row is not None:
            return uuid_of(row["id"]), True
        existing = self._sql.one(
            "connection_requests_open_between", user_id=new.user_id, target_user_id=new.target_user_id
        )
        return None if existing is None else (uuid_of(existing["id"]), False)

    # --- the intro services (issue 12) ---------------------------------------------------------------

    def lock_prospect(self, user_id: UUID, opportunity_id: UUID) -> None:
        """Lock the member's opportunity and its siblings (same prospect and innovator), in id order."""
        self._sql.all("intro_opportunities_lock_prospect", user_id=user_id, opportunity_id=opportunity_id)

    def pause_siblings(self, opportunity_id: UUID) -> list[IntroParties]:
        rows = self._sql.all("intro_opportunities_pause_siblings", opportunity_id=opportunity_id)
        return [_opportunity_parties(r, "paused") for r in rows]

    def cancel_siblings(self, opportunity_id: UUID) -> list[IntroParties]:
        rows = self._sql.all("intro_opportunities_cancel_siblings", opportunity_id=opportunity_id)
        return [_opportunity_parties(r, "cancelled") for r in rows]

    def complete_opportunity(self, user_id: UUID, opportunity_id: UUID, now: datetime) -> IntroParties | None:
        row = self._sql.one(
            "intro_opportunities_complete", user_id=user_id, opportunity_id=opportunity_id, now=now
        )
        return None if row is None else _opportunity_parties(row, row["status"])

    def complete_offer(self, user_id: UUID, offer_id: UUID, now: datetime) -> IntroParties | None:
        row = self._sql.one("intro_offers_complete", user_id=user_id, offer_id=offer_id, now=now)
        return None if row is None else _offer_parties(row)

    def complete_connection_request(
        self, user_id: UUID, request_id: UUID, now: datetime
    ) -> IntroParties | None:
        row = self._sql.one("connection_requests_complete", user_id=user_id, request_id=request_id, now=now)
        return None if row is None else _request_parties(row)

    def not_met_opportunity(
        self, user_id: UUID, opportunity_id: UUID, now: datetime, reason: str | None
    ) -> IntroParties | None:
        row = self._sql.one(
            "intro_opportunities_not_met",
            user_id=user_id,
            opportunity_id=opportunity_id,
            now=now,
            reason=reason,
        )
        return None if row is None else _opportunity_parties(row, row["status"])

    def release_siblings(self, opportunity_id: UUID) -> list[IntroParties]:
        rows = self._sql.all("intro_opportunities_release_siblings", opportunity_id=opportunity_id)
        return [_opportunity_parties(r, "open") for r in rows]

    def not_met_offer(
        self, user_id: UUID, offer_id: UUID, now: datetime, reason: str | None
    ) -> IntroParties | None:
        row = self._sql.one(
            "intro_offers_not_met", user_id=user_id, offer_id=offer_id, now=now, reason=reason
        )
        return None if row is None else _offer_parties(row)

    def not_met_connection_request(
        self, user_id: UUID, request_id: UUID, now: datetime, reason: str | None
    ) -> IntroParties | None:
        row = self._sql.one(
            "connection_requests_not_met", user_id=user_id, request_id=request_id, now=now, reason=reason
        )
        return None if row is None else _request_parties(row)

    def expire_opportunities(self, now: datetime, limit: int) -> list[IntroParties]:
        rows = self._sql.all("intro_opportunities_expire", now=now, limit=limit)
        return [_opportunity_parties(r, r["status"]) for r in rows]

    def expire_offers(self, now: datetime, limit: int) -> list[IntroParties]:
        return [_offer_parties(r) for r in self._sql.all("intro_offers_expire", now=now, limit=limit)]

    def expire_connection_requests(self, now: datetime, limit: int) -> list[IntroParties]:
        return [
            _request_parties(r) for r in self._sql.all("connection_requests_expire", now=now, limit=limit)
        ]

    def claim_offer_reminders(
        self, now: datetime, accepted_before: datetime, limit: int
    ) -> list[IntroParties]:
        """Offers due a reminder to their connector, marked reminded in the same statement (once only)."""
        rows = self._sql.all(
            "intro_offers_claim_reminders", now=now, accepted_before=accepted_before, limit=limit
        )
        return [_offer_parties(r) for r in rows]

    def opportunity_brief(self, opportunity_id: UUID) -> OpportunityBrief | None:
        row = self._sql.one("intro_opportunities_for_talking_points", opportunity_id=opportunity_id)
        if row is None:
            return None
        return OpportunityBrief(
            id=uuid_of(row["id"]),
            status=row["status"],
            connector_user_id=uuid_of(row["connector_user_id"]),
            innovator_id=uuid_or_none(row["innovator_id"]),
            prospect_name=" ".join(p for p in (row["first_name"], row["last_name"]) if p),
            prospect_company=row["prospect_company"],
            prospect_title=row["prospect_title"],
            innovator_name=row["innovator_name"],
            innovator_company=row["innovator_company"],
            solution_description=row["solution_description"],
            intro_context=row["intro_context"],
            bounty_credits=int(row["bounty_credits"]),
            talking_points=row["talking_points"],
        )

    def set_talking_points(self, opportunity_id: UUID, talking_points: str) -> bool:
        """Store them once; False when the opportunity already has them (a redelivery) or is gone."""
        row = self._sql.one(
            "intro_opportunities_set_talking_points",
            opportunity_id=opportunity_id,
            talking_points=talking_points,
        )
        return row is not None

    def awaiting_outcome(self, user_id: UUID) -> OwnedIntro | None:
        """The member's latest intro both sides accepted with no outcome yet; ``role`` is its kind."""
        row = self._sql.one("intro_offers_awaiting_outcome", user_id=user_id)
        return None if row is None else OwnedIntro(uuid_of(row["id"]), row["status"], row["kind"])

    def prospect_of(self, offer_id: UUID) -> str | None:
        """Who an intro offer's connector offered to introduce; None for no such offer."""
        row = self._sql.one("intro_offers_prospect", offer_id=offer_id)
        return None if row is None else str(row["prospect_name"])

    def member_cards(self, user_ids: list[UUID]) -> dict[UUID, MemberCard]:
        rows = self._sql.all("intro_member_cards", user_ids=user_ids)
        return {
            uuid_of(r["id"]): MemberCard(
                id=uuid_of(r["id"]),
                first_name=r["first_name"],
                last_name=r["last_name"],
                company=r["company"],
                title=r["title"],
                email=r["email"],
            )
            for r in rows
        }

    # --- prospects (agents.md §14): read here, written by the upload page (issue 12 reads only) -----

    def prospect_candidates(self, user_id: UUID) -> list[ProspectRow]:
        return [
            ProspectRow(
                id=uuid_of(r["id"]),
                innovator_id=uuid_of(r["innovator_id"]),
                email=r["email"],
                phone=r["phone_number"],
                linkedin_url=r["linkedin_url"],
                first_name=r["first_name"],
                last_name=r["last_name"],
                company=r["company"],
            )
            for r in self._sql.all("prospects_match_candidates", user_id=user_id)
        ]

    def convert_prospect(self, prospect_id: UUID, user_id: UUID, now: datetime) -> bool:
        """pending -> converted to the member; False when it was not pending (a second run)."""
        row = self._sql.one("prospects_convert", prospect_id=prospect_id, user_id=user_id, now=now)
        return row is not None

    def flag_prospect_for_review(self, prospect_id: UUID, review: dict[str, Any]) -> bool:
        row = self._sql.one("prospects_flag_for_review", prospect_id=prospect_id, review=json_param(review))
        return row is not None

    def prospects_to_review(self, limit: int) -> list[ProspectReview]:
        return [
            ProspectReview(
                id=uuid_of(r["id"]),
                name=" ".join(p for p in (r["first_name"], r["last_name"]) if p),
                company=r["company"],
                email=r["email"],
                innovator_id=uuid_of(r["innovator_id"]),
                review=r["review"],
            )
            for r in self._sql.all("prospects_review_list", limit=limit)
        ]

    # --- Social Butterfly (agents.md §11) ------------------------------------------------------------

    def research_target(self, prospect_id: UUID, innovator_id: UUID) -> ResearchTarget | None:
        row = self._sql.one("prospects_for_research", prospect_id=prospect_id, innovator_id=innovator_id)
        if row is None:
            return None
        return ResearchTarget(
            id=uuid_of(row["id"]),
            innovator_id=uuid_of(row["innovator_id"]),
            first_name=row["first_name"],
            last_name=row["last_name"],
            company=row["company"],
            title=row["title"],
            email=row["email"],
            linkedin_url=row["linkedin_url"],
            innovator_linkedin_url=row["innovator_linkedin_url"],
            innovator_name=row["innovator_name"],
        )

    def record_research(
        self, target: ResearchTarget, mutual_connections: list[dict[str, Any]], now: datetime
    ) -> None:
        name = " ".join(p for p in (target.first_name, target.last_name) if p) or "unknown"
        self._sql.one(
            "linkedin_research_prospects_record",
            prospect_name=name,
            company=target.company,
            title=target.title,
            linkedin_url=target.linkedin_url,
            email=target.email,
            mutual_connections=json_param(mutual_connections),
            innovator_id=target.innovator_id,
            now=now,
        )

    def members_by_linkedin(self, urls: list[str]) -> list[UUID]:
        return [uuid_of(r["id"]) for r in self._sql.all("intro_opportunities_members_by_linkedin", urls=urls)]

    def add_opportunity(self, new: NewOpportunity) -> UUID | None:
        """The new opportunity's id; None when the connector already has one for this prospect."""
        t = new.target
        row = self._sql.one(
            "intro_opportunities_insert_for_prospect",
            connector_user_id=new.connector_user_id,
            innovator_id=t.innovator_id,
            prospect_id=t.id,
            first_name=t.first_name or "",
            last_name=t.last_name or "",
            company=t.company,
            title=t.title,
            linkedin_url=t.linkedin_url,
            innovator_name=t.innovator_name,
            intro_context=new.intro_context,
            bounty_credits=new.bounty_credits,
            expires_at=new.expires_at,
        )
        return None if row is None else uuid_of(row["id"])

    # --- the expert's side -------------------------------------------------------------------------

    def routed_request(self, user_id: UUID, request_id: UUID) -> RoutedRequest | None:
        """An open community request that reached the member as an expert; never their own."""
        row = self._sql.one("community_requests_routed_to_member", user_id=user_id, request_id=request_id)
        if row is None:
            return None
        return RoutedRequest(uuid_of(row["id"]), uuid_or_none(row["requesting_user_id"]), row["status"])


def _offer_answer(row: Any, *, other: str) -> IntroAnswer:
    return IntroAnswer(
        id=uuid_of(row["id"]),
        status=row["status"],
        bounty_credits=int(row["bounty_credits"]),
        other_user_id=uuid_or_none(row[other]),
        context_type=row["context_type"],
        context_id=uuid_or_none(row["context_id"]),
    )


def _opportunity_parties(row: Any, status: str) -> IntroParties:
    return IntroParties(
        kind="intro_opportunity",
        id=uuid_of(row["id"]),
        status=status,
        payee_user_id=uuid_or_none(row["connector_user_id"]),
        other_user_id=uuid_or_none(row["innovator_id"]),
        bounty_credits=int(row["bounty_credits"]) if "bounty_credits" in row else 0,
    )


def _offer_parties(row: Any) -> IntroParties:
    return IntroParties(
        kind="intro_offer",
        id=uuid_of(row["id"]),
        status=row["status"],
        payee_user_id=uuid_or_none(row["offering_user_id"]),
        other_user_id=uuid_or_none(row["introducee_user_id"]),
        bounty_credits=int(row["bounty_credits"]) if "bounty_credits" in row else 0,
        prospect_name=row.get("prospect_name"),
    )


def _request_parties(row: Any) -> IntroParties:
    return IntroParties(
        kind="connection_request",
        id=uuid_of(row["id"]),
        status=row["status"],
        payee_user_id=uuid_or_none(row["introducee_user_id"]),
        other_user_id=uuid_or_none(row["requestor_user_id"]),
        bounty_credits=int(row["bounty_credits"]) if "bounty_credits" in row else 0,
    )
