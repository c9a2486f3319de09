"""``credits.spend`` and ``credits.award`` at their edges (the mutants mutmut left alive in
shared/service_layer/credits.py): the smallest amounts, a replayed spend after the balance ran
out, a key reused for another charge, an unknown member, what ``InsufficientCredits`` carries for
its caller, and an award's description and recorder."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer import credits
from tests.integration.test_credits import cached, do_award, do_spend, member

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("amount", [0, -5])
def test_a_spend_of_nothing_or_less_is_refused_before_anything_is_read(db: Any, amount: int) -> None:
    user = member(db)
    with pytest.raises(ValueError, match=f"a spend is a positive amount, not {amount}"):
        do_spend(user, amount, "nothing")
    assert db.execute("SELECT count(*) AS n FROM credit_events").fetchone()["n"] == 0


def test_a_spend_of_one_credit_takes_the_last_credit(db: Any) -> None:
    user = member(db)
    do_award(user, 1, "one")
    assert do_spend(user, 1, "spend-one").amount == -1
    assert cached(db, user) == 0


def test_a_replayed_spend_returns_the_first_charge_even_with_the_balance_spent(db: Any) -> None:
    user = member(db)
    do_award(user, 10, "grant")
    first = do_spend(user, 10, "intro-1")
    again = do_spend(user, 10, "intro-1")  # a redelivery: the balance is 0 now, the charge stands
    assert again.id == first.id and again.amount == -10
    assert cached(db, user) == 0
    assert db.execute("SELECT count(*) AS n FROM credit_events WHERE amount < 0").fetchone()["n"] == 1


def test_a_spend_key_reused_for_another_charge_is_refused(db: Any) -> None:
    user = member(db)
    do_award(user, 30, "grant")
    do_spend(user, 10, "intro-1")
    with pytest.raises(credits.IdempotencyKeyReused, match="'intro-1' already paid -10"):
        do_spend(user, 15, "intro-1")
    with PostgresUnitOfWork() as uow, pytest.raises(credits.IdempotencyKeyReused):
        credits.spend(
            uow,
            user_id=user,
            amount=10,
            event_type="another_charge",
            reference_type="connection_request",
            reference_id=uuid4(),
            idempotency_key="intro-1",
        )
    assert cached(db, user) == 20


def test_a_spend_for_an_unknown_member_names_them(db: Any) -> None:
    nobody = uuid4()
    with pytest.raises(credits.UnknownMember, match=str(nobody)):
        do_spend(nobody, 5, "ghost")


def test_insufficient_credits_tells_the_caller_who_has_what(db: Any) -> None:
    user = member(db)
    do_award(user, 4, "grant")
    with pytest.raises(credits.InsufficientCredits) as refused:
        do_spend(user, 9, "too-much")
    assert (refused.value.user_id, refused.value.balance, refused.value.amount) == (user, 4, 9)
    assert isinstance(refused.value.user_id, UUID)


@pytest.mark.parametrize("amount", [0, -5])
def test_an_award_of_nothing_or_less_is_refused(db: Any, amount: int) -> None:
    user = member(db)
    with pytest.raises(ValueError, match=f"an award is a positive amount, not {amount}"):
        do_award(user, amount, "nothing")


def test_an_award_of_one_credit_is_paid_with_its_description_and_recorder(db: Any) -> None:
    user = member(db)
    with PostgresUnitOfWork() as uow:
        entry = credits.award(
            uow,
            user_id=user,
            amount=1,
            event_type="community_response",
            reference_type="community_response",
            reference_id=uuid4(),
            idempotency_key="one",
            description="Answer scored 5/10",
            recorded_by="operator:ops@example.com",
        )
        uow.commit()
    assert (entry.amount, entry.description, entry.recorded_by) == (
        1,
        "Answer scored 5/10",
        "operator:ops@example.com",
    )
    row = db.execute(
        "SELECT description, recorded_by FROM credit_events WHERE id = %s", (entry.id,)
    ).fetchone()
    assert row == {"description": "Answer scored 5/10", "recorded_by": "operator:ops@example.com"}
    assert cached(db, user) == 1
