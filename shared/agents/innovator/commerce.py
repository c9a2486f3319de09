"""The links the Innovator's commerce tools text (issue 13; agents.md §5, §15).

- ``upload_link``: a new single-use prospect upload link, valid 24 hours; only the token's
  SHA-256 is stored (``prospect_upload_tokens``), in the turn's transaction.
- ``funding_link``: a Stripe Checkout Session for the credit pack that covers ``credits``
  (the one price table, ``CREDIT_PACKS``), recorded in ``credit_purchases`` in the turn's
  transaction. The session is created with an idempotency key of the turn and the pack, so a
  retried request inside one turn creates one session; if the turn rolls back, its reply (the
  link) is never sent either.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.stripe_checkout import CheckoutGateway, CheckoutUnavailable, checkout_gateway
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.config import MissingSetting, get_settings
from shared.domain.constants import CREDIT_CURRENCY, PROSPECT_UPLOAD_TOKEN_TTL
from shared.domain.prospects import credit_packs, new_upload_token, pack_for, token_hash
from shared.logs import get_logger

log = get_logger(__name__)


def upload_link(uow: PostgresUnitOfWork, innovator_id: UUID, now: datetime) -> dict[str, Any]:
    try:
        base = str(get_settings().require("prospect_upload_url")).rstrip("/")
    except MissingSetting as exc:
        log.error("prospect upload is not configured", extra={"missing": exc.env_var})
        return {"status": "unavailable", "available": False, "note": "The upload page is not configured."}
    token = new_upload_token()
    link = uow.prospect_uploads.create(
        innovator_id, token_hash(token), secrets.token_urlsafe(32), now + PROSPECT_UPLOAD_TOKEN_TTL
    )
    log.info("prospect upload link created", extra={"user_id": str(innovator_id), "link_id": str(link.id)})
    return {
        "status": "link_created",
        "available": True,
        "url": f"{base}/?t={token}",
        "expires_in_hours": int(PROSPECT_UPLOAD_TOKEN_TTL.total_seconds() // 3600),
        "single_use": True,
        "note": "A CSV with email, phone or LinkedIn per row; the page shows a preview before saving.",
    }


def funding_link(
    uow: PostgresUnitOfWork,
    user_id: UUID,
    credits: int,
    turn_id: UUID,
    gateway: CheckoutGateway | None = None,
) -> dict[str, Any]:
    pack = pack_for(credits)
    if pack is None:
        largest = max(p.credits for p in credit_packs())
        return {
            "status": "too_many_credits",
            "available": False,
            "note": f"The largest pack is {largest} credits; no link was created.",
            "packs": [{"credits": p.credits, "usd": p.amount_cents / 100} for p in credit_packs()],
        }
    try:
        gateway = gateway or checkout_gateway()
        session = gateway.create_session(
            user_id=user_id,
            credits=pack.credits,
            amount_cents=pack.amount_cents,
            currency=CREDIT_CURRENCY,
            idempotency_key=f"credit-funding-{turn_id}-{pack.credits}",
        )
    except MissingSetting as exc:
        log.error("Stripe is not configured", extra={"missing": exc.env_var})
        return {"status": "unavailable", "available": False, "note": "Buying credits is not configured."}
    except CheckoutUnavailable as exc:
        log.warning("Checkout Session not created", extra={"user_id": str(user_id), "reason": str(exc)})
        return {"status": "unavailable", "available": False, "note": "The payment page could not be created."}
    uow.credit_purchases.add(
        user_id,
        session_id=session.id,
        credits=pack.credits,
        amount_cents=pack.amount_cents,
        currency=CREDIT_CURRENCY,
        checkout_url=session.url,
    )
    log.info(
        "credit checkout created",
        extra={"user_id": str(user_id), "credits": pack.credits, "session": session.id},
    )
    return {
        "status": "link_created",
        "available": True,
        "url": session.url,
        "credits": pack.credits,
        "requested_credits": credits,
        "price_usd": pack.amount_cents / 100,
    }
