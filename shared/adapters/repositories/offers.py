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
from shared.adapters.repositories._rows import uuid_of, uuid_or_none


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
