"""Credits bought through Stripe Checkout (``shared/service_layer/credit_purchases.py``), event by event.

Written against the module's mutmut survivors (docs/testing.md, "credit_purchases.py"): which
events are ignored before any transaction (another type, no session id, unpaid), each outcome
under the locked purchase (unknown session, paid or refused before, a mismatch refused with its
reasons, credited through the ledger with the purchase marked paid), what is written and
committed for each, and the log lines an operator reads (the mismatch is an ERROR).
``RecordingUow`` (tests/fakes/uow.py) stands in for ``PostgresUnitOfWork``; the SQL is tested on
Postgres (tests/functions/test_stripe_webhook.py, tests/integration/test_purchases_ops.py).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal
from uuid import UUID

import pytest

from shared.adapters.repositories.commerce import CreditPurchase
from shared.adapters.repositories.credits import LedgerEntry, NewLedgerEntry
from shared.adapters.repositories.queue import NewQueuedPart
from shared.adapters.repositories.users import SendProfile, User
from shared.adapters.stripe_checkout import StripeEvent
from shared.service_layer.credit_purchases import COMPLETED, PurchaseOutcome, record_stripe_event
from tests.fakes.rows import user_row
from tests.fakes.uow import ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.credit_purchases"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
BUYER = UUID("00000000-0000-0000-0000-0000000000a1")
PURCHASE = UUID("00000000-0000-0000-0000-0000000000b1")
LEDGER_ROW = UUID("00000000-0000-0000-0000-0000000000c1")
CONVERSATION = UUID("00000000-0000-0000-0000-0000000000d1")
QUEUED = UUID("00000000-0000-0000-0000-0000000000e1")
SESSION = "cs_test_a1b2c3"
EVENT_ID = "evt_123"


def purchase(**changes: Any) -> CreditPurchase:
    base = CreditPurchase(
        id=PURCHASE,
        user_id=BUYER,
        stripe_session_id=SESSION,
        credits=100,
        amount_cents=4900,
        currency="usd",
        status="open",
        checkout_url="https://checkout.example/s",
        stripe_event_id=None,
        refused_reason=None,
        credit_event_id=None,
        paid_at=None,
        created_at=NOW - timedelta(minutes=5),
    )
    return dataclasses.replace(base, **changes)


def session(**changes: Any) -> dict[str, Any]:
    return {
        "id": SESSION,
        "payment_status": "paid",
        "amount_total": 4900,
        "currency": "usd",
        "client_reference_id": str(BUYER),
        **changes,
    }


def event(obj: dict[str, Any] | None = None, type_: str = COMPLETED) -> StripeEvent:
    return StripeEvent(id=EVENT_ID, type=type_, object=session() if obj is None else obj)


def ledger_row(entry: NewLedgerEntry) -> LedgerEntry:
    return LedgerEntry(
        id=LEDGER_ROW,
        user_id=entry.user_id,
        event_type=entry.event_type,
        amount=entry.amount,
        reference_type=entry.reference_type,
        reference_id=entry.reference_id,
        idempotency_key=entry.idempotency_key,
        description=entry.description,
        recorded_by=entry.recorded_by,
        created_at=NOW,
    )


def buyer(**changes: Any) -> User:
    """The buyer as read after the award: the trigger has put the pack in the balance."""
    return dataclasses.replace(
        user_row(BUYER, NOW, poc_agent_type="innovator", credit_balance=130), **changes
    )


def send_profile() -> SendProfile:
    return SendProfile(
        id=BUYER,
        phone_number="+14155550103",
        timezone="America/New_York",
        quiet_hours_start=None,
        quiet_hours_end=None,
        opted_out=False,
        verified=True,
        poc_agent_type="innovator",
        response_pattern={},
        last_inbound_at=NOW - timedelta(minutes=2),
    )


def run(
    found: CreditPurchase | None,
    stripe_event: StripeEvent,
    *,
    member: User | Literal["buyer"] | None = "buyer",
) -> tuple[PurchaseOutcome, UowLog]:
    log = UowLog()
    purchases = ScriptedRepo(
        "credit_purchases", log, lock_by_session=found, mark_refused=True, mark_paid=True
    )
    credits = ScriptedRepo("credits", log, append=ledger_row)
    users = ScriptedRepo(
        "users", log, get=buyer() if member == "buyer" else member, send_profile=send_profile()
    )
    conversations = ScriptedRepo("conversations", log, latest_for_user=SimpleNamespace(id=CONVERSATION))
    queue = ScriptedRepo("queue", log, add=QUEUED)
    outcome = record_stripe_event(
        stripe_event,
        uow_factory=uow_factory(
            log,
            credit_purchases=purchases,
            credits=credits,
            users=users,
            conversations=conversations,
            queue=queue,
        ),
        now=NOW,
    )
    return outcome, log


def lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.getMessage() == message]


def fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {n: getattr(record, n) for n in names}


def test_the_outcome_reads_as_a_dict_for_the_webhooks_answer() -> None:
    assert PurchaseOutcome("credited", SESSION, 100).as_dict() == {
        "outcome": "credited",
        "session": SESSION,
        "credits": 100,
    }
    assert PurchaseOutcome("ignored").as_dict() == {"outcome": "ignored", "session": None, "credits": 0}


def test_a_paid_completion_credits_the_buyer_through_the_ledger_and_marks_the_purchase_paid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    outcome, log = run(purchase(), event())
    assert outcome == PurchaseOutcome("credited", SESSION, 100)
    assert log.methods() == [
        "credit_purchases.lock_by_session",
        "credits.append",
        "credit_purchases.mark_paid",
        "users.get",
        "conversations.latest_for_user",
        "users.send_profile",
        "queue.add",
    ]
    assert log.calls[0].args == (SESSION,)
    assert log.calls[1].args == (
        NewLedgerEntry(
            user_id=BUYER,
            event_type="credit_purchase",
            amount=100,
            reference_type="credit_purchase",
            reference_id=PURCHASE,
            idempotency_key=f"credit_purchase_{SESSION}",
            description="Bought 100 credits (Stripe Checkout)",
            recorded_by="stripe_webhook",
        ),
    )
    assert log.calls[2].args == (PURCHASE, EVENT_ID, LEDGER_ROW, NOW)
    [receipt] = log.calls[6].args
    assert isinstance(receipt, NewQueuedPart)
    assert receipt.final_message == (
        "Payment received, thank you. 100 credits added; you now have 130 credits."
    )
    assert (receipt.user_id, receipt.agent_id, receipt.priority) == (BUYER, "innovator", "high")
    assert receipt.requires_fresh_context is False
    assert receipt.conversation_context_id == CONVERSATION
    assert receipt.message_data == {"kind": "credit_purchase", "purchase_id": str(PURCHASE)}
    assert receipt.scheduled_for == NOW  # the member is active: the next slot is now
    # The receipt is queued in the transaction that pays, before its one commit.
    assert (log.entered, log.commits, log.exits_without_commit) == (1, 1, 0)
    [line] = lines(caplog, "credits bought")
    assert line.levelno == logging.INFO
    assert fields(line, "user_id", "credits", "session") == {
        "user_id": str(BUYER),
        "credits": 100,
        "session": SESSION,
    }


@pytest.mark.parametrize("member", [buyer(opted_out=True), None], ids=["opted_out", "no_row"])
def test_no_receipt_is_queued_for_a_buyer_who_opted_out_or_has_no_row(member: User | None) -> None:
    outcome, log = run(purchase(), event(), member=member)
    assert outcome.outcome == "credited"
    assert "queue.add" not in log.methods()
    assert log.methods()[-1] == "users.get"
    assert log.commits == 1


@pytest.mark.parametrize("currency", ["USD", "Usd"])
def test_the_currency_is_compared_without_case(currency: str) -> None:
    outcome, _ = run(purchase(), event(session(currency=currency)))
    assert outcome.outcome == "credited"
    outcome, _ = run(purchase(currency="USD"), event(session(currency="usd")))
    assert outcome.outcome == "credited"


@pytest.mark.parametrize("type_", ["checkout.session.expired", "payment_intent.succeeded", ""])
def test_another_event_type_is_ignored_without_a_transaction(
    type_: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    outcome, log = run(purchase(), event(type_=type_))
    assert outcome == PurchaseOutcome("ignored")
    assert (log.entered, log.calls) == (0, [])
    [line] = lines(caplog, "stripe event ignored")
    assert line.levelno == logging.INFO
    assert fields(line, "stripe_event", "type") == {"stripe_event": EVENT_ID, "type": type_}


@pytest.mark.parametrize(
    "obj", [session(id=None), session(id=""), session(id=42), {"payment_status": "paid"}]
)
def test_a_completion_without_a_session_id_is_ignored(
    obj: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    outcome, log = run(purchase(), event(obj))
    assert outcome == PurchaseOutcome("ignored")
    assert (log.entered, log.calls) == (0, [])
    assert [r for r in caplog.records if r.name == LOGGER] == []


@pytest.mark.parametrize("status", ["unpaid", "no_payment_required", None])
def test_an_unpaid_completion_waits_without_a_transaction(
    status: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    outcome, log = run(purchase(), event(session(payment_status=status)))
    assert outcome == PurchaseOutcome("unpaid", SESSION)
    assert (log.entered, log.calls) == (0, [])
    [line] = lines(caplog, "checkout completed unpaid; waiting")
    assert line.levelno == logging.INFO and fields(line, "session") == {"session": SESSION}


def test_an_unknown_session_credits_nothing_and_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    outcome, log = run(None, event())
    assert outcome == PurchaseOutcome("unknown_session", SESSION)
    assert log.methods() == ["credit_purchases.lock_by_session"]
    assert (log.commits, log.exits_without_commit) == (0, 1)
    [line] = lines(caplog, "stripe event for an unknown session")
    assert line.levelno == logging.WARNING
    assert fields(line, "session", "stripe_event") == {"session": SESSION, "stripe_event": EVENT_ID}


def test_a_redelivered_event_for_a_paid_purchase_answers_its_credits_and_pays_nothing() -> None:
    outcome, log = run(purchase(status="paid", credits=250), event())
    assert outcome == PurchaseOutcome("already_credited", SESSION, 250)
    assert log.methods() == ["credit_purchases.lock_by_session"]
    assert log.commits == 0


def test_an_event_for_a_purchase_refused_before_pays_nothing() -> None:
    outcome, log = run(purchase(status="refused"), event())
    assert outcome == PurchaseOutcome("refused_before", SESSION)
    assert log.methods() == ["credit_purchases.lock_by_session"]
    assert log.commits == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"amount_total": 4901}, "amount_total 4901 != 4900"),
        ({"amount_total": "4900"}, "amount_total '4900' != 4900"),
        ({"amount_total": None}, "amount_total None != 4900"),
        ({"currency": "eur"}, "currency 'eur' != 'usd'"),
        ({"currency": None}, "currency None != 'usd'"),
        ({"client_reference_id": str(PURCHASE)}, "client_reference_id is not the buyer"),
        ({"client_reference_id": None}, "client_reference_id is not the buyer"),
        (
            {"amount_total": 100, "currency": "gbp", "client_reference_id": "x"},
            "amount_total 100 != 4900; currency 'gbp' != 'usd'; client_reference_id is not the buyer",
        ),
    ],
)
def test_a_completion_that_does_not_match_its_purchase_is_refused_with_its_reasons_and_credits_nothing(
    changes: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    outcome, log = run(purchase(), event(session(**changes)))
    assert outcome == PurchaseOutcome("mismatch", SESSION)
    assert log.methods() == ["credit_purchases.lock_by_session", "credit_purchases.mark_refused"]
    assert log.calls[1].args == (PURCHASE, EVENT_ID, reason)
    assert (log.commits, log.exits_without_commit) == (1, 0)
    [line] = lines(caplog, "stripe event does not match its purchase; nothing credited")
    assert line.levelno == logging.ERROR
    assert fields(line, "session", "stripe_event", "reason") == {
        "session": SESSION,
        "stripe_event": EVENT_ID,
        "reason": reason,
    }
    assert lines(caplog, "credits bought") == []


def test_a_purchase_without_a_currency_matches_a_session_without_one() -> None:
    outcome, _ = run(purchase(currency=""), event(session(currency=None)))
    assert outcome.outcome == "credited"
