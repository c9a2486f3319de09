"""What members bring: innovators (the company side of an innovator) and intro offers (nominations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_of


@dataclass(frozen=True)
class NewNomination:
    """Someone a member puts forward (agents.md §2.5): an intro offer with no bounty."""

    user_id: UUID
    prospect_name: str
    prospect_company: str | None
    prospect_title: str | None
    prospect_context: str | None


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
