"""The credit ledger: the one way to pay or charge credits (decisions B8, B19; platform.md §4).

- ``award`` and ``spend`` append one processed ``credit_events`` row under an idempotency key.
  A second call with the same key writes nothing and returns the first row (``duplicate=True``);
  two racing calls with one key give one row (the unique key makes the second wait, then skip).
  The same key for a different member, amount or event type is a bug and raises.
- ``spend`` locks the member's row first, so racing spends serialise, and refuses with
  ``InsufficientCredits`` anything that would take the balance below zero.
- The balance is the sum of processed rows (``balance``); ``users.credit_balance`` is a cache
  the database trigger keeps. ``ledger_consistency`` is the check ``ops status`` shows.

Call inside the caller's unit of work (``uow``: its ``credits`` ledger and ``users``); the caller
commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared.adapters.repositories.credits import (
    CreditLedgerRepository,
    LedgerConsistency,
    LedgerEntry,
    NewLedgerEntry,
)
from shared.adapters.repositories.users import UserLock, UserRepository
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.logs import get_logger

log = get_logger(__name__)

__all__ = [
    "CreditError",
    "IdempotencyKeyReused",
    "InsufficientCredits",
    "LedgerConsistency",
    "LedgerEntry",
    "UnknownMember",
    "award",
    "balance",
    "ledger",
    "ledger_consistency",
    "spend",
]

Ledger = PostgresUnitOfWork


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
class _Repos:
    ledger: CreditLedgerRepository
    users: UserRepository


def _repos(uow: Ledger) -> _Repos:
    return _Repos(uow.credits, uow.users)


def award(
    uow: Ledger,
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
        _repos(uow).ledger,
        NewLedgerEntry(
            user_id=user_id,
            amount=amount,
            event_type=event_type,
            reference_type=reference_type,
            reference_id=reference_id,
            idempotency_key=idempotency_key,
            description=description,
            recorded_by=recorded_by,
        ),
    )


def spend(
    uow: Ledger,
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
    repos = _repos(uow)
    repos.users.lock(user_id, UserLock.CREDITS)
    if repos.users.get(user_id) is None:
        raise UnknownMember(f"no member {user_id}")
    existing = repos.ledger.by_key(idempotency_key)
    if existing is not None:
        return _same(existing, user_id=user_id, amount=-amount, event_type=event_type)
    current = repos.ledger.balance(user_id)
    if current < amount:
        log.info(
            "spend refused: not enough credits",
            extra={"user_id": str(user_id), "balance": current, "amount": amount, "key": idempotency_key},
        )
        raise InsufficientCredits(user_id, current, amount)
    return _append(
        repos.ledger,
        NewLedgerEntry(
            user_id=user_id,
            amount=-amount,
            event_type=event_type,
            reference_type=reference_type,
            reference_id=reference_id,
            idempotency_key=idempotency_key,
            description=description,
            recorded_by=recorded_by,
        ),
    )


def balance(uow: Ledger, user_id: UUID) -> int:
    """The authoritative balance: the sum of the member's processed ledger rows."""
    return _repos(uow).ledger.balance(user_id)


def ledger(uow: Ledger, user_id: UUID, *, limit: int = 100) -> list[LedgerEntry]:
    return _repos(uow).ledger.for_user(user_id, limit=limit)


def ledger_consistency(uow: Ledger) -> LedgerConsistency:
    """``ledger_consistent``: the ledger sums to every cached balance (for ``ops status``)."""
    return _repos(uow).ledger.consistency()


def _append(ledger: CreditLedgerRepository, entry: NewLedgerEntry) -> LedgerEntry:
    written = ledger.append(entry)
    if written.duplicate:
        return _same(written, user_id=entry.user_id, amount=entry.amount, event_type=entry.event_type)
    log.info(
        "credits recorded",
        extra={
            "user_id": str(entry.user_id),
            "amount": entry.amount,
            "event_type": entry.event_type,
            "key": entry.idempotency_key,
        },
    )
    return written


def _same(entry: LedgerEntry, *, user_id: UUID, amount: int, event_type: str) -> LedgerEntry:
    """The first row under a reused key, when it is the same payment; a different one is a bug."""
    if entry.user_id != user_id or entry.amount != amount or entry.event_type != event_type:
        raise IdempotencyKeyReused(
            f"key {entry.idempotency_key!r} already paid {entry.amount} ({entry.event_type})"
            f" to {entry.user_id}"
        )
    log.info("credit key already used; returning the first result", extra={"key": entry.idempotency_key})
    return entry
