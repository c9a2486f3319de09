"""The credit ledger on real Postgres: idempotent awards, row-locked spends, races, the cache."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer import credits

pytestmark = pytest.mark.integration


def member(db: Any, phone: str = "+14155550142") -> UUID:
    return UUID(
        str(
            db.execute("INSERT INTO users (phone_number) VALUES (%s) RETURNING id", (phone,)).fetchone()["id"]
        )
    )


def do_award(user_id: UUID, amount: int, key: str) -> credits.LedgerEntry:
    with PostgresUnitOfWork() as uow:
        entry = credits.award(
            uow,
            user_id=user_id,
            amount=amount,
            event_type="community_response",
            reference_type="community_response",
            reference_id=uuid4(),
            idempotency_key=key,
        )
        uow.commit()
    return entry


def do_spend(user_id: UUID, amount: int, key: str) -> credits.LedgerEntry:
    with PostgresUnitOfWork() as uow:
        entry = credits.spend(
            uow,
            user_id=user_id,
            amount=amount,
            event_type="connection_request",
            reference_type="connection_request",
            reference_id=uuid4(),
            idempotency_key=key,
        )
        uow.commit()
    return entry


def cached(db: Any, user_id: UUID) -> int:
    return int(
        db.execute("SELECT credit_balance FROM users WHERE id = %s", (user_id,)).fetchone()["credit_balance"]
    )


def test_award_twice_with_one_key_pays_once_and_returns_the_first(db: Any) -> None:
    user = member(db)
    first = do_award(user, 25, "community_response_x")
    again = [do_award(user, 25, "community_response_x") for _ in range(2)]
    assert not first.duplicate
    assert all(e.duplicate and e.id == first.id for e in again)
    assert db.execute("SELECT count(*) AS n FROM credit_events").fetchone()["n"] == 1
    assert cached(db, user) == 25
    with PostgresUnitOfWork() as uow:
        assert credits.balance(uow, user) == 25
        assert credits.ledger_consistency(uow).consistent


def test_a_key_reused_for_another_amount_is_refused(db: Any) -> None:
    user = member(db)
    do_award(user, 25, "k1")
    with pytest.raises(credits.IdempotencyKeyReused):
        do_award(user, 35, "k1")


def test_spend_below_zero_is_refused_with_a_clear_error(db: Any) -> None:
    user = member(db)
    do_award(user, 10, "grant")
    with pytest.raises(credits.InsufficientCredits, match="has 10 credits; cannot spend 11"):
        do_spend(user, 11, "spend-1")
    spent = do_spend(user, 10, "spend-2")
    assert spent.amount == -10
    assert cached(db, user) == 0


def race(n: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_racing_awards_with_one_key_give_one_row(db: Any) -> None:
    user = member(db)
    results = race(4, lambda _: do_award(user, 45, "community_response_race"))
    assert all(isinstance(r, credits.LedgerEntry) for r in results), results
    assert len({r.id for r in results}) == 1
    assert sum(1 for r in results if not r.duplicate) == 1
    assert db.execute("SELECT count(*) AS n FROM credit_events").fetchone()["n"] == 1
    assert cached(db, user) == 45


def test_racing_spends_that_exceed_the_balance_one_is_refused(db: Any) -> None:
    user = member(db)
    do_award(user, 30, "grant")
    results = race(2, lambda i: do_spend(user, 20, f"spend-{i}"))
    refused = [r for r in results if isinstance(r, credits.InsufficientCredits)]
    paid = [r for r in results if isinstance(r, credits.LedgerEntry)]
    assert len(refused) == 1 and len(paid) == 1, results
    assert cached(db, user) == 10
    with PostgresUnitOfWork() as uow:
        assert credits.balance(uow, user) == 10


def test_consistency_check_finds_a_cache_written_around_the_ledger(db: Any) -> None:
    user = member(db)
    do_award(user, 15, "k")
    db.execute("UPDATE users SET credit_balance = 999 WHERE id = %s", (user,))
    with PostgresUnitOfWork() as uow:
        report = credits.ledger_consistency(uow)
    assert not report.consistent
    assert report.mismatched == 1
