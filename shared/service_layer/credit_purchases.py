"""Credits bought through Stripe Checkout (issue 13; agents.md §15; decisions A11, B19).

``record_stripe_event`` takes a verified Stripe event (``shared.adapters.stripe_checkout.verify_event``):

- ``checkout.session.completed`` with ``payment_status == "paid"`` for a session
  ``request_credit_funding`` created: the buyer's user is credited the pack's credits through the
  ledger (``credits.award``, key ``credit_purchase_<session id>``), and the ``credit_purchases`` row
  is marked paid and names the ledger row, and the buyer's receipt is queued (``message_queue``:
  the credits and the new balance), in one transaction. The purchase row is locked first, so a
  redelivered event (or two at once) pays and texts once.
- the same event for an unknown session, or whose amount, currency or client_reference_id differ
  from what was recorded at creation: nothing is credited (the purchase is marked ``refused``).
- any other event type, or an unpaid completion (delayed payment methods): ignored.

Every outcome answers 2xx: Stripe must not retry an event we decided on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.queue_messages import queue_for_member
from shared.adapters.stripe_checkout import StripeEvent
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.innovator.prompts import CREDITS_BOUGHT
from shared.domain.credits import CREDIT_PURCHASE, credit_purchase_key
from shared.logs import get_logger
from shared.service_layer import credits

log = get_logger(__name__)

COMPLETED = "checkout.session.completed"


@dataclass(frozen=True)
class PurchaseOutcome:
    outcome: (
        str  # credited | already_credited | ignored | unpaid | unknown_session | mismatch | refused_before
    )
    session_id: str | None = None
    credits: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "session": self.session_id, "credits": self.credits}


def record_stripe_event(  # noqa: PLR0911
    event: StripeEvent, *, uow_factory: Callable[[], PostgresUnitOfWork], now: datetime
) -> PurchaseOutcome:
    if event.type != COMPLETED:
        log.info("stripe event ignored", extra={"stripe_event": event.id, "type": event.type})
        return PurchaseOutcome("ignored")
    session = event.object
    session_id = session.get("id")
    if not isinstance(session_id, str) or not session_id:
        return PurchaseOutcome("ignored")
    if session.get("payment_status") != "paid":
        log.info("checkout completed unpaid; waiting", extra={"session": session_id})
        return PurchaseOutcome("unpaid", session_id)
    with uow_factory() as uow:
        purchase = uow.credit_purchases.lock_by_session(session_id)
        if purchase is None:
            log.warning(
                "stripe event for an unknown session", extra={"session": session_id, "stripe_event": event.id}
            )
            return PurchaseOutcome("unknown_session", session_id)
        if purchase.status == "paid":
            return PurchaseOutcome("already_credited", session_id, purchase.credits)
        if purchase.status == "refused":
            return PurchaseOutcome("refused_before", session_id)
        problems = _mismatches(session, purchase.amount_cents, purchase.currency, str(purchase.user_id))
        if problems:
            reason = "; ".join(problems)
            uow.credit_purchases.mark_refused(purchase.id, event.id, reason)
            uow.commit()
            log.error(
                "stripe event does not match its purchase; nothing credited",
                extra={"session": session_id, "stripe_event": event.id, "reason": reason},
            )
            return PurchaseOutcome("mismatch", session_id)
        entry = credits.award(
            uow,
            user_id=purchase.user_id,
            amount=purchase.credits,
            event_type=CREDIT_PURCHASE,
            reference_type="credit_purchase",
            reference_id=purchase.id,
            idempotency_key=credit_purchase_key(session_id),
            description=f"Bought {purchase.credits} credits (Stripe Checkout)",
            recorded_by="stripe_webhook",
        )
        uow.credit_purchases.mark_paid(purchase.id, event.id, entry.id, now)
        _queue_receipt(uow, purchase.user_id, purchase.id, purchase.credits, now)
        uow.commit()
    log.info(
        "credits bought",
        extra={"user_id": str(purchase.user_id), "credits": purchase.credits, "session": session_id},
    )
    return PurchaseOutcome("credited", session_id, purchase.credits)


def _queue_receipt(
    uow: PostgresUnitOfWork, user_id: UUID, purchase_id: UUID, bought: int, now: datetime
) -> None:
    """The buyer paid on a web page and hears back by SMS: the credits and the balance they now
    have (read after the award: the trigger has updated the cache). Through the queue like every
    proactive message, from their point of contact, in the next slot (quiet hours still apply)."""
    user = uow.users.get(user_id)
    if user is not None:
        queue_for_member(
            uow,
            user,
            now=now,
            text=CREDITS_BOUGHT.format(credits=bought, balance=user.credit_balance),
            message_data={"kind": "credit_purchase", "purchase_id": str(purchase_id)},
            priority="high",
        )


def _mismatches(session: dict[str, Any], amount_cents: int, currency: str, user_id: str) -> list[str]:
    problems = []
    if session.get("amount_total") != amount_cents:
        problems.append(f"amount_total {session.get('amount_total')!r} != {amount_cents}")
    if str(session.get("currency") or "").lower() != currency.lower():
        problems.append(f"currency {session.get('currency')!r} != {currency!r}")
    if session.get("client_reference_id") != user_id:
        problems.append("client_reference_id is not the buyer")
    return problems
