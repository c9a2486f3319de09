"""Stripe, through the official ``stripe`` SDK (decisions A11, A12): Checkout Sessions and webhooks.

- ``StripeCheckout.create_session`` creates a one-off Checkout Session for a credit pack with an
  idempotency key on the request; ``client_reference_id`` is the buyer's user id.
- ``verify_event`` checks the ``Stripe-Signature`` header with ``stripe.Webhook.construct_event``
  (HMAC-SHA256 over ``t.payload`` with the endpoint's signing secret) and its replay tolerance.

``STRIPE_API_BASE`` points the client at a stand-in (``tools/fakes/stripe_api.py``) locally and in
tests; unset, it talks to Stripe. ``checkout_gateway()`` builds the client once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from shared.config import get_settings
from shared.domain.constants import STRIPE_WEBHOOK_TOLERANCE_SECONDS


class CheckoutUnavailable(RuntimeError):
    """Stripe refused or could not be reached; nothing was created."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    amount_total: int
    currency: str


class CheckoutGateway(Protocol):
    def create_session(
        self,
        *,
        user_id: UUID,
        credits: int,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
    ) -> CheckoutSession: ...


class StripeCheckout:
    """The real SDK client (``stripe.StripeClient``), on Stripe or on ``api_base``."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        success_url: str | None = None,
        cancel_url: str | None = None,
    ) -> None:
        import stripe  # here, not at module import: every function imports this module, few use Stripe

        bases: dict[str, Any] = {"api": api_base} if api_base else {}
        self._client = stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=2)  # type: ignore[arg-type]
        self._success_url = success_url or "https://yachtparty.xyz/credits/thanks"
        self._cancel_url = cancel_url or "https://yachtparty.xyz/credits/cancelled"

    def create_session(
        self,
        *,
        user_id: UUID,
        credits: int,
        amount_cents: int,
        currency: str,
        idempotency_key: str,
    ) -> CheckoutSession:
        import stripe  # loaded already: building the client imported it

        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": str(user_id),
            "success_url": self._success_url,
            "cancel_url": self._cancel_url,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount_cents,
                        "product_data": {"name": f"Yachtparty credits: {credits}"},
                    },
                }
            ],
            "metadata": {"user_id": str(user_id), "credits": str(credits)},
        }
        try:
            session = self._client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise CheckoutUnavailable(
                f"Stripe refused the Checkout Session: {exc.user_message or exc}"
            ) from exc
        if not session.url:
            raise CheckoutUnavailable("Stripe returned a Checkout Session without a URL")
        return CheckoutSession(
            id=session.id,
            url=session.url,
            amount_total=int(session.amount_total or 0),
            currency=str(session.currency or currency),
        )


@lru_cache(maxsize=1)
def checkout_gateway() -> CheckoutGateway:
    """The process's Stripe client, from settings (``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE``)."""
    settings = get_settings()
    return StripeCheckout(
        settings.require("stripe_secret_key"),
        api_base=settings.stripe_api_base,
        success_url=settings.stripe_success_url,
        cancel_url=settings.stripe_cancel_url,
    )


class BadSignature(ValueError):
    """Unsigned, forged, malformed or outside the replay tolerance."""


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    object: dict[str, Any]  # data.object, as plain JSON


def verify_event(payload: bytes, signature: str | None, secret: str) -> StripeEvent:
    """The event, if ``Stripe-Signature`` is valid for ``payload`` and recent; else BadSignature."""
    if not signature:
        raise BadSignature("missing Stripe-Signature header")
    import stripe  # only the Stripe webhook verifies events

    try:
        event = stripe.Webhook.construct_event(
            payload.decode("utf-8"), signature, secret, tolerance=STRIPE_WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc.user_message or exc)) from None
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BadSignature(f"payload is not a Stripe event: {exc}") from None
    body = event.to_dict()
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    well_formed = isinstance(body.get("id"), str) and isinstance(body.get("type"), str)
    if not well_formed or not isinstance(obj, dict):
        raise BadSignature("payload is not a Stripe event")
    return StripeEvent(id=body["id"], type=body["type"], object=obj)
