"""``shared/service_layer/credits.py``: what the mutmut survivors showed unpinned, example by example.

The ledger's three log lines are what the logs hold of each credit movement ("credits recorded"),
each replayed key and each refused spend, the lines an operator searches when a member asks about
a charge, so each is pinned whole: its message, its level and its fields. So are the exact texts
of the errors a caller shows or logs (a reused key, an unknown member, a refused spend), and a
reused key is refused for each of the three ways a payment can differ (member, amount, event
type) on its own.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer import credits
from tests.integration.test_credits import cached, do_award, do_spend, member
from tests.lock_support import until_another_session_waits

pytestmark = pytest.mark.integration

LOGGER = "shared.service_layer.credits"
RECORDED = "credits recorded"
REPLAYED = "credit key already used; returning the first result"
REFUSED = "spend refused: not enough credits"
FIELDS = ("user_id", "balance", "amount", "event_type", "key")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, dict[str, Any]]]:
    """The ledger's log lines: (message, level, the fields it carries)."""
    return [
        (r.getMessage(), r.levelno, {f: getattr(r, f) for f in FIELDS if hasattr(r, f)})
        for r in caplog.records
        if r.name == LOGGER
    ]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def award_as(user_id: UUID, amount: int, key: str, event_type: str) -> credits.LedgerEntry:
    with PostgresUnitOfWork() as uow:
        entry = credits.award(
            uow,
            user_id=user_id,
            amount=amount,
            event_type=event_type,
            reference_type="community_response",
            reference_id=uuid4(),
            idempotency_key=key,
        )
        uow.commit()
    return entry


def test_an_award_is_one_credits_recorded_line_with_its_fields(
    db: Any, logs: pytest.LogCaptureFixture
) -> None:
    user = member(db)
    do_award(user, 25, "award-1")
    assert lines(logs) == [
        (
            RECORDED,
            logging.INFO,
            {"user_id": str(user), "amount": 25, "event_type": "community_response", "key": "award-1"},
        )
    ]


def test_a_spend_is_one_credits_recorded_line_with_the_negative_amount(
    db: Any, logs: pytest.LogCaptureFixture
) -> None:
    user = member(db)
    do_award(user, 30, "grant")
    logs.clear()
    do_spend(user, 10, "intro-1")
    assert lines(logs) == [
        (
            RECORDED,
            logging.INFO,
            {"user_id": str(user), "amount": -10, "event_type": "connection_request", "key": "intro-1"},
        )
    ]


def test_a_replayed_award_logs_the_reused_key_and_records_nothing(
    db: Any, logs: pytest.LogCaptureFixture
) -> None:
    user = member(db)
    first = do_award(user, 25, "award-1")
    logs.clear()
    again = do_award(user, 25, "award-1")
    assert again.id == first.id and again.duplicate
    assert lines(logs) == [(REPLAYED, logging.INFO, {"key": "award-1"})]


def test_a_replayed_spend_logs_the_reused_key_and_charges_nothing(
    db: Any, logs: pytest.LogCaptureFixture
) -> None:
    user = member(db)
    do_award(user, 30, "grant")
    first = do_spend(user, 10, "intro-1")
    logs.clear()
    assert do_spend(user, 10, "intro-1").id == first.id
    assert lines(logs) == [(REPLAYED, logging.INFO, {"key": "intro-1"})]
    assert cached(db, user) == 20


def test_a_refused_spend_is_one_line_with_the_balance_the_amount_and_the_key(
    db: Any, logs: pytest.LogCaptureFixture
) -> None:
    user = member(db)
    do_award(user, 4, "grant")
    logs.clear()
    with pytest.raises(credits.InsufficientCredits) as refused:
        do_spend(user, 9, "too-much")
    assert str(refused.value) == f"member {user} has 4 credits; cannot spend 9"
    assert lines(logs) == [
        (REFUSED, logging.INFO, {"user_id": str(user), "balance": 4, "amount": 9, "key": "too-much"})
    ]


def test_a_key_reused_for_another_amount_names_the_key_and_the_first_payment(db: Any) -> None:
    user = member(db)
    do_award(user, 25, "k1")
    with pytest.raises(credits.IdempotencyKeyReused) as reused:
        do_award(user, 35, "k1")
    assert str(reused.value) == f"key 'k1' already paid 25 (community_response) to {user}"


def test_a_key_reused_for_another_member_alone_is_refused(db: Any) -> None:
    first, second = member(db), member(db, phone="+14155550143")
    do_award(first, 25, "k1")
    with pytest.raises(credits.IdempotencyKeyReused) as reused:
        do_award(second, 25, "k1")
    assert str(reused.value) == f"key 'k1' already paid 25 (community_response) to {first}"
    assert (cached(db, first), cached(db, second)) == (25, 0)


def test_a_key_reused_for_another_event_type_alone_is_refused(db: Any) -> None:
    user = member(db)
    do_award(user, 25, "k1")
    with pytest.raises(credits.IdempotencyKeyReused) as reused:
        award_as(user, 25, "k1", "prospect_conversion")
    assert str(reused.value) == f"key 'k1' already paid 25 (community_response) to {user}"
    assert cached(db, user) == 25


def test_a_spend_for_an_unknown_member_says_no_member(db: Any) -> None:
    nobody = uuid4()
    with pytest.raises(credits.UnknownMember) as unknown:
        do_spend(nobody, 5, "ghost")
    assert str(unknown.value) == f"no member {nobody}"


def test_the_ledger_is_the_members_own_rows_newest_first_one_hundred_unless_told(db: Any) -> None:
    user, other = member(db), member(db, phone="+14155550143")
    for key in ("first", "second", "third"):  # one transaction each: three creation times
        do_award(user, 1, key)
    do_award(other, 1, "not-theirs")
    with PostgresUnitOfWork() as uow:
        assert [e.idempotency_key for e in credits.ledger(uow, user)] == ["third", "second", "first"]
        assert [e.idempotency_key for e in credits.ledger(uow, user, limit=2)] == ["third", "second"]
        for n in range(98):
            credits.award(
                uow,
                user_id=user,
                amount=1,
                event_type="community_response",
                reference_type="community_response",
                reference_id=uuid4(),
                idempotency_key=f"more-{n}",
            )
        uow.commit()
    with PostgresUnitOfWork() as uow:
        assert len(credits.ledger(uow, user)) == 100  # of 101
        assert len(credits.ledger(uow, user, limit=101)) == 101


def test_a_spend_is_stored_with_its_description_and_recorder(db: Any) -> None:
    user = member(db)
    do_award(user, 40, "grant")
    with PostgresUnitOfWork() as uow:
        entry = credits.spend(
            uow,
            user_id=user,
            amount=30,
            event_type="connection_request",
            reference_type="connection_request",
            reference_id=uuid4(),
            idempotency_key="intro-1",
            description="Intro to Dana",
            recorded_by="agent:concierge",
        )
        uow.commit()
    assert (entry.amount, entry.description, entry.recorded_by) == (-30, "Intro to Dana", "agent:concierge")
    row = db.execute(
        "SELECT amount, description, recorded_by FROM credit_events WHERE id = %s", (entry.id,)
    ).fetchone()
    assert row == {"amount": -30, "description": "Intro to Dana", "recorded_by": "agent:concierge"}
    assert cached(db, user) == 10


def test_a_second_spend_waits_for_the_first_and_is_refused_on_what_is_left(
    db: Any, database_url: str
) -> None:
    """The member's ``UserLock.CREDITS``, deterministically: the first spend's transaction is still open
    when the second starts, so the second must wait for it and then see 10 credits, not 30. Without
    the lock (``lock(None, ...)`` takes none: the key is NULL) the second reads 30 and also spends
    (``test_racing_spends_that_exceed_the_balance_one_is_refused`` races two threads and can pass by
    their running one after the other)."""
    user = member(db)
    do_award(user, 30, "grant")
    outcome: dict[str, Any] = {}

    def second() -> None:
        try:
            outcome["entry"] = do_spend(user, 20, "spend-b")
        except Exception as exc:
            outcome["error"] = exc

    with PostgresUnitOfWork() as first:
        credits.spend(
            first,
            user_id=user,
            amount=20,
            event_type="connection_request",
            reference_type="connection_request",
            reference_id=uuid4(),
            idempotency_key="spend-a",
        )
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        until_another_session_waits(database_url, 10.0)  # at the lock (or, lock lost, at the cache's row)
        first.commit()
    thread.join(30)
    assert not thread.is_alive()
    refused = outcome.get("error")
    assert isinstance(refused, credits.InsufficientCredits), f"the second spend got {outcome}"
    assert (refused.balance, refused.amount) == (10, 20)
    assert cached(db, user) == 10
