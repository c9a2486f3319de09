"""Innovator commerce (issue 13): prospect upload links and their prospects, credit purchases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import json_param, uuid_of, uuid_or_none


@dataclass(frozen=True)
class UploadLink:
    """One prospect_upload_tokens row (the token itself is never stored)."""

    id: UUID
    innovator_id: UUID
    csrf_secret: str
    expires_at: datetime
    used_at: datetime | None
    preview_batch_id: UUID | None
    preview_rows: list[dict[str, Any]] | None
    preview_file_name: str | None
    upload_batch_id: UUID | None
    rows_written: int | None

    @classmethod
    def from_row(cls, row: Row) -> UploadLink:
        preview = row["preview_rows"]
        return cls(
            id=uuid_of(row["id"]),
            innovator_id=uuid_of(row["innovator_id"]),
            csrf_secret=row["csrf_secret"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
            preview_batch_id=uuid_or_none(row["preview_batch_id"]),
            preview_rows=preview if isinstance(preview, list) else None,
            preview_file_name=row["preview_file_name"],
            upload_batch_id=uuid_or_none(row["upload_batch_id"]),
            rows_written=row["rows_written"],
        )


@dataclass(frozen=True)
class NewProspect:
    innovator_id: UUID
    upload_batch_id: UUID
    email: str | None
    phone_number: str | None
    linkedin_url: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StoredProspect:
    id: UUID
    innovator_id: UUID
    email: str | None
    phone_number: str | None
    linkedin_url: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    upload_batch_id: UUID | None
    status: str


class ProspectUploadRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def create(
        self, innovator_id: UUID, token_sha256: str, csrf_secret: str, expires_at: datetime
    ) -> UploadLink:
        row = self._sql.one(
            "prospect_upload_token_insert",
            innovator_id=innovator_id,
            token_sha256=token_sha256,
            csrf_secret=csrf_secret,
            expires_at=expires_at,
        )
        assert row is not None
        return UploadLink.from_row(row)

    def lock_by_hash(self, token_sha256: str) -> UploadLink | None:
        row = self._sql.one("prospect_upload_token_by_hash", token_sha256=token_sha256)
        return None if row is None else UploadLink.from_row(row)

    def set_preview(
        self, link_id: UUID, batch_id: UUID, rows: list[dict[str, Any]], file_name: str | None
    ) -> bool:
        return (
            self._sql.run(
                "prospect_upload_token_set_preview",
                id=link_id,
                preview_batch_id=batch_id,
                preview_rows=json_param(rows),
                preview_file_name=file_name,
            )
            == 1
        )

    def mark_used(self, link_id: UUID, batch_id: UUID, rows_written: int, now: datetime) -> bool:
        return (
            self._sql.run(
                "prospect_upload_token_mark_used",
                id=link_id,
                upload_batch_id=batch_id,
                rows_written=rows_written,
                now=now,
            )
            == 1
        )

    def add_prospect(self, prospect: NewProspect) -> UUID:
        row = self._sql.one(
            "prospects_insert",
            innovator_id=prospect.innovator_id,
            email=prospect.email,
            phone_number=prospect.phone_number,
            linkedin_url=prospect.linkedin_url,
            first_name=prospect.first_name,
            last_name=prospect.last_name,
            company=prospect.company,
            title=prospect.title,
            upload_batch_id=prospect.upload_batch_id,
            metadata=json_param(prospect.metadata),
        )
        assert row is not None
        return uuid_of(row["id"])

    def known_contacts(
        self, innovator_id: UUID, contacts: Iterable[tuple[str, str]]
    ) -> frozenset[tuple[str, str]]:
        """Which of the given ``(field, lowercased value)`` contacts the innovator uploaded before."""
        wanted: dict[str, list[str]] = {"email": [], "phone_number": [], "linkedin_url": []}
        for field, value in contacts:
            wanted[field].append(value.lower())
        if not any(wanted.values()):
            return frozenset()
        rows = self._sql.all(
            "prospects_known_contacts",
            innovator_id=innovator_id,
            emails=wanted["email"],
            phones=wanted["phone_number"],
            linkedins=wanted["linkedin_url"],
        )
        return frozenset((str(r["field"]), str(r["value"]).lower()) for r in rows)

    def batch(self, batch_id: UUID) -> list[StoredProspect]:
        return [
            StoredProspect(
                id=uuid_of(r["id"]),
                innovator_id=uuid_of(r["innovator_id"]),
                email=r["email"],
                phone_number=r["phone_number"],
                linkedin_url=r["linkedin_url"],
                first_name=r["first_name"],
                last_name=r["last_name"],
                company=r["company"],
                title=r["title"],
                upload_batch_id=uuid_or_none(r["upload_batch_id"]),
                status=r["status"],
            )
            for r in self._sql.all("prospects_of_batch", upload_batch_id=batch_id)
        ]


@dataclass(frozen=True)
class CreditPurchase:
    id: UUID
    user_id: UUID
    stripe_session_id: str
    credits: int
    amount_cents: int
    currency: str
    status: str  # open | paid | refused
    checkout_url: str | None
    stripe_event_id: str | None
    refused_reason: str | None
    credit_event_id: UUID | None
    paid_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> CreditPurchase:
        return cls(
            id=uuid_of(row["id"]),
            user_id=uuid_of(row["user_id"]),
            stripe_session_id=row["stripe_session_id"],
            credits=int(row["credits"]),
            amount_cents=int(row["amount_cents"]),
            currency=row["currency"],
            status=row["status"],
            checkout_url=row["checkout_url"],
            stripe_event_id=row["stripe_event_id"],
            refused_reason=row["refused_reason"],
            credit_event_id=uuid_or_none(row["credit_event_id"]),
            paid_at=row["paid_at"],
            created_at=row["created_at"],
        )


@dataclass(frozen=True)
class PurchaseListing:
    """ops purchases: one purchase, its member and its ledger row (None until paid)."""

    id: UUID
    phone_number: str
    stripe_session_id: str
    credits: int
    amount_cents: int
    currency: str
    status: str
    refused_reason: str | None
    created_at: datetime
    paid_at: datetime | None
    ledger_amount: int | None
    ledger_key: str | None


class CreditPurchaseRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(
        self,
        user_id: UUID,
        *,
        session_id: str,
        credits: int,
        amount_cents: int,
        currency: str,
        checkout_url: str,
    ) -> CreditPurchase:
        row = self._sql.one(
            "credit_purchase_insert",
            user_id=user_id,
            stripe_session_id=session_id,
            credits=credits,
            amount_cents=amount_cents,
            currency=currency,
            checkout_url=checkout_url,
        )
        assert row is not None
        return CreditPurchase.from_row(row)

    def lock_by_session(self, session_id: str) -> CreditPurchase | None:
        row = self._sql.one("credit_purchase_by_session", stripe_session_id=session_id)
        return None if row is None else CreditPurchase.from_row(row)

    def mark_paid(self, purchase_id: UUID, event_id: str, credit_event_id: UUID, now: datetime) -> bool:
        return (
            self._sql.run(
                "credit_purchase_mark_paid",
                id=purchase_id,
                stripe_event_id=event_id,
                credit_event_id=credit_event_id,
                now=now,
            )
            == 1
        )

    def mark_refused(self, purchase_id: UUID, event_id: str, reason: str) -> bool:
        return (
            self._sql.run(
                "credit_purchase_mark_refused", id=purchase_id, stripe_event_id=event_id, reason=reason
            )
            == 1
        )

    def listing(self, *, status: str | None = None, limit: int = 50) -> list[PurchaseListing]:
        return [
            PurchaseListing(
                id=uuid_of(r["id"]),
                phone_number=r["phone_number"],
                stripe_session_id=r["stripe_session_id"],
                credits=int(r["credits"]),
                amount_cents=int(r["amount_cents"]),
                currency=r["currency"],
                status=r["status"],
                refused_reason=r["refused_reason"],
                created_at=r["created_at"],
                paid_at=r["paid_at"],
                ledger_amount=None if r["ledger_amount"] is None else int(r["ledger_amount"]),
                ledger_key=r["ledger_key"],
            )
            for r in self._sql.all("credit_purchases_list", status=status, limit=limit)
        ]
