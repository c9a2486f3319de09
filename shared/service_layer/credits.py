"""The credit ledger: the one way to pay or charge credits (decisions B8, B19; platform.md §4).

- ``award`` and ``spend`` append one processed ``credit_events`` row under an idempotency key.
  A second call with the same key writes nothing and returns the first row (``duplicate=True``);
  two racing calls with one key give one row (the unique key makes the second wait, then skip).
  The same key for a different member, amount or event type is a bug and raises.
- ``spend`` locks the member's row first, so racing spends serialise, and refuses with
  ``InsufficientCredits`` anything that would take the balance below zero.
- The balance is the sum of processed rows (``balance``); ``users.credit_balance`` is a cache
  the database trigger keeps. ``ledger_consistency`` is the check ``ops status`` shows.

Call inside the caller's unit of work (``uow.sql``); the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Row, Sql
from shared.adapters.repositories.users import UserLock, UserRepository
from shared.logs import get_logger

log = get_logger(__name__)


class CreditError(Exception):
    pass


class InsufficientCredits(CreditError):
    def __init__(self, user_id: UUID, balance: int, amount: int) -> None:
        super().__init__(f"member {user_id} has {balance} credits; cannot spend {amount}")
        self.user_id = user_id
        self.balance = balance
        self.amount = amount


class IdempotencyKeyReused(CreditError):
    """The key was used for a different member, amount or event type."""


class UnknownMember(CreditError):
    pass


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
            id=UUID(str(row["id"])),
            user_id=UUID(str(row["user_id"])),
            event_type=row["event_type"],
            amount=int(row["amount"]),
            reference_type=row["reference_type"],
            reference_id=UUID(str(row["reference_id"])),
            idempotency_key=row["idempotency_key"],
            description=row.get("description"),
            recorded_by=row.get("recorded_by"),
            created_at=row["created_at"],
            duplicate=duplicate,
        )


def award(
    sql: Sql,
    *,
    user_id: UUID,
    amount: int,
    event_type: str,
    reference_type: str,
    reference_id: UUID,
    idempotency_key: str,
    description: str | None = None,
    recorded_by: str | None = None,
) -> LedgerEntry:
    """Pay ``amount`` (> 0) credits once per ``idempotency_key``."""
    if amount <= 0:
        raise ValueError(f"an award is a positive amount, not {amount}")
    return _append(
        sql,
        user_id=user_id,
        amount=amount,
        event_type=event_type,
        reference_type=reference_type,
        reference_id=reference_id,
        idempotency_key=idempotency_key,
        description=description,
        recorded_by=recorded_by,
    )


def spend(
    sql: Sql,
    *,
    user_id: UUID,
    amount: int,
    event_type: str,
    reference_type: str,
    reference_id: UUID,
    idempotency_key: str,
    description: str | None = None,
    recorded_by: str | None = None,
) -> LedgerEntry:
    """Charge ``amount`` (> 0) credits once per key; ``InsufficientCredits`` below zero."""
    if amount <= 0:
        raise ValueError(f"a spend is a positive amount, not {amount}")
    users = UserRepository(sql)
    users.lock(user_id, UserLock.CREDITS)
    if users.get(user_id) is None:
        raise UnknownMember(f"no member {user_id}")
    existing = sql.one("credit_event_by_key", idempotency_key=idempotency_key)
    if existing is not None:
        return _same(existing, user_id=user_id, amount=-amount, event_type=event_type)
    current = balance(sql, user_id)
    if current < amount:
        log.info(
            "spend refused: not enough credits",
            extra={"user_id": str(user_id), "balance": current, "amount": amount, "key": idempotency_key},
        )
        raise InsufficientCredits(user_id, current, amount)
    return _append(
        sql,
        user_id=user_id,
        amount=-amount,
        event_type=event_type,
        reference_type=reference_type,
        reference_id=reference_id,
        idempotency_key=idempotency_key,
        description=description,
        recorded_by=recorded_by,
    )


def balance(sql: Sql, user_id: UUID) -> int:
    """The authoritative balance: the sum of the member's processed ledger rows."""
    return int(sql.scalar("credit_balance", user_id=user_id) or 0)


def ledger(sql: Sql, user_id: UUID, *, limit: int = 100) -> list[LedgerEntry]:
    return [LedgerEntry.from_row(r) for r in sql.all("credit_ledger_for_user", user_id=user_id, limit=limit)]


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


def ledger_consistency(sql: Sql) -> LedgerConsistency:
    """``ledger_consistent``: the ledger sums to every cached balance (for ``ops status``)."""
    row = sql.one("credit_ledger_consistency") or {}
    return LedgerConsistency(
        **{
            k: int(row.get(k) or 0)
            for k in ("mismatched", "ledger_total", "cached_total", "ledger_rows", "unprocessed_rows")
        }
    )


def _append(sql: Sql, **fields: Any) -> LedgerEntry:
    row = sql.one("credit_insert_event", **fields)
    if row is not None:
        log.info(
            "credits recorded",
            extra={
                "user_id": str(fields["user_id"]),
                "amount": fields["amount"],
                "event_type": fields["event_type"],
                "key": fields["idempotency_key"],
            },
        )
        return LedgerEntry.from_row(row)
    existing = sql.one("credit_event_by_key", idempotency_key=fields["idempotency_key"])
    if existing is None:  # pragma: no cover - the conflicting row was deleted in between
        raise CreditError(f"idempotency key {fields['idempotency_key']!r} conflicted but no row holds it")
    return _same(
        existing, user_id=fields["user_id"], amount=fields["amount"], event_type=fields["event_type"]
    )


def _same(row: Row, *, user_id: UUID, amount: int, event_type: str) -> LedgerEntry:
    entry = LedgerEntry.from_row(row, duplicate=True)
    if entry.user_id != user_id or entry.amount != amount or entry.event_type != event_type:
        raise IdempotencyKeyReused(
            f"key {entry.idempotency_key!r} already paid {entry.amount} ({entry.event_type})"
            f" to {entry.user_id}"
        )
    log.info("credit key already used; returning the first result", extra={"key": entry.idempotency_key})
    return entry
