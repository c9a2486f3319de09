"""stripe_webhook: Stripe's events (HTTP, public; issue 13, agents.md §15, decisions A11, B19).

Verifies ``Stripe-Signature`` with ``stripe.Webhook.construct_event`` and its replay tolerance
(``STRIPE_WEBHOOK_SECRET``). A paid ``checkout.session.completed`` credits the buyer once,
through the ledger, keyed by the Checkout Session id; other events get a fast 200.

Answers: 200 for every verified event; 400 unsigned, forged, replayed or malformed; 405 not
POST; 413 oversized. The entry point lives in ``shared.entrypoints.stripe_webhook``; this file
only binds it. See docs/commerce.md.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("stripe_webhook")


@functions_framework.http
def stripe_webhook(request: Request) -> Response:
    return _handle(request)
