"""What members bring: innovators (the company side of an innovator) and intro offers (nominations)."""

from __future__ import annotations

from dataclasses import dataclass
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


class InnovatorRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(self, user_id: UUID, company_name: str | None) -> bool:
        """The innovators row of a member approved as an innovator; False when it existed."""
        return self._sql.one("innovators_insert", user_id=user_id, company_name=company_name) is not None


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
