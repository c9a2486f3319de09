"""credit_events: the credit ledger (decisions B8, B19; platform.md §4). Named queries in
``shared/adapters/sql/credits.sql``; the rules (positive amounts, never below zero, one key one
payment) are in ``shared.service_layer.credits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories._rows import uuid_of


@dataclass(frozen=True)
class LedgerEntry:
    id: UUID
    user_id: UUID
    event_type: str
    amount: int  # negative for a spend
    reference_type: str
    reference_id: UUID
    idempotency_key: str
    description: str | None
    recorded_by: str | None
    created_at: datetime
    duplicate: bool = False  # True: the key was used before; this is the first result

    @classmethod
    def from_row(cls, row: Row, *, duplicate: bool = False) -> LedgerEntry:
        return cls(
            id=uuid_of(row["id"]),
            user_id=uuid_of(row["user_id"]),
            event_type=row["event_type"],
            amount=int(row["amount"]),
            reference_type=row["reference_type"],
            reference_id=uuid_of(row["reference_id"]),
            idempotency_key=row["idempotency_key"],
            description=row.get("description"),
            recorded_by=row.get("recorded_by"),
            created_at=row["created_at"],
            duplicate=duplicate,
        )


@dataclass(frozen=True)
class NewLedgerEntry:
    user_id: UUID
    event_type: str
    amount: int  # negative for a spend
    reference_type: str
    reference_id: UUID
    idempotency_key: str
    description: str | None = None
    recorded_by: str | None = None


@dataclass(frozen=True)
class LedgerConsistency:
    mismatched: int  # members whose cached balance differs from their ledger sum
    ledger_total: int
    cached_total: int
    ledger_rows: int
    unprocessed_rows: int

    @property
    def consistent(self) -> bool:
        return self.mismatched == 0 and self.ledger_total == self.cached_total


class CreditLedgerRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def by_key(self, idempotency_key: str) -> LedgerEntry | None:
        """The row written under the key, as a duplicate (the key was used before)."""
        row = self._sql.one("credit_event_by_key", idempotency_key=idempotency_key)
        return None if row is None else LedgerEntry.from_row(row, duplicate=True)

    def append(self, entry: NewLedgerEntry) -> LedgerEntry:
        """Append one processed row. When the key was used before (a racing twin waits, then
        skips), return that first row with ``duplicate=True``; the caller checks it matches."""
        row = self._sql.one(
            "credit_insert_event",
            user_id=entry.user_id,
            event_type=entry.event_type,
            amount=entry.amount,
            reference_type=entry.reference_type,
            reference_id=entry.reference_id,
            idempotency_key=entry.idempotency_key,
            description=entry.description,
            recorded_by=entry.recorded_by,
        )
        if row is not None:
            return LedgerEntry.from_row(row)
        existing = self.by_key(entry.idempotency_key)
        if existing is None:  # pragma: no cover - the conflicting row was deleted in between
            raise LookupError(f"idempotency key {entry.idempotency_key!r} conflicted but no row holds it")
        return existing

    def balance(self, user_id: UUID) -> int:
        """The sum of the member's processed rows."""
        return int(self._sql.scalar("credit_balance", user_id=user_id) or 0)

    def for_user(self, user_id: UUID, *, limit: int) -> list[LedgerEntry]:
        """The member's ledger, newest first."""
        return [
            LedgerEntry.from_row(r)
            for r in self._sql.all("credit_ledger_for_user", user_id=user_id, limit=limit)
        ]

    def consistency(self) -> LedgerConsistency:
        """Does every cached ``users.credit_balance`` equal the member's ledger sum?"""
        row = self._sql.one("credit_ledger_consistency") or {}
        return LedgerConsistency(
            mismatched=int(row.get("mismatched") or 0),
            ledger_total=int(row.get("ledger_total") or 0),
            cached_total=int(row.get("cached_total") or 0),
            ledger_rows=int(row.get("ledger_rows") or 0),
            unprocessed_rows=int(row.get("unprocessed_rows") or 0),
        )
