"""email_inbound: the verification-email webhook (HTTP, public; agents.md §2.6, decisions B10, B11).

Authenticated by the shared secret ``EMAIL_WEBHOOK_SECRET``, given either as the header
``X-Email-Webhook-Secret: <secret>``, as ``Authorization: Bearer <secret>``, or as HTTP basic
auth with the secret as the password (for providers that can only call
``https://user:<secret>@host/...``, such as SNS). See docs/bouncer.md.

Answers: 200 verified / already verified (no change) / replay; 400 malformed or no token;
401 unsigned or wrong secret; 404 unknown token; 405 not POST; 413 oversized.

The entry point lives in ``shared.entrypoints.email_inbound``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("email_inbound")


@functions_framework.http
def email_inbound(request: Request) -> Response:
    return _handle(request)
