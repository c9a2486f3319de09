"""email_inbound: the verification-email webhook (HTTP, public; agents.md §2.6, decisions B10, B11).

Authenticated by the shared secret ``EMAIL_WEBHOOK_SECRET``, given either as the header
``X-Email-Webhook-Secret: <secret>``, as ``Authorization: Bearer <secret>``, or as HTTP basic
auth with the secret as the password (for providers that can only call
``https://user:<secret>@host/...``, such as SNS). See docs/bouncer.md.

Answers: 200 verified / already verified (no change) / replay; 400 malformed or no token;
401 unsigned or wrong secret; 404 unknown token; 405 not POST; 413 oversized.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import flask
import functions_framework

from shared.adapters.email_parsing import MalformedEmail, parse_inbound_email
from shared.adapters.email_webhook_auth import BadEmailSecret, check_email_webhook_secret
from shared.config import MissingSetting, get_settings
from shared.domain.constants import EMAIL_WEBHOOK_MAX_BYTES
from shared.logs import get_logger
from shared.service_layer.email_verification import Outcome, record_verification_email

log = get_logger(__name__)

_STATUS = {
    Outcome.VERIFIED: 200,
    Outcome.ALREADY_VERIFIED: 200,
    Outcome.NO_TOKEN: 400,
    Outcome.UNKNOWN_TOKEN: 404,
}


def _answer(status: int, **body: Any) -> tuple[str, int, dict[str, str]]:
    return json.dumps(body), status, {"Content-Type": "application/json"}


def _payload(request: flask.Request, raw: bytes) -> Any:
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = request.form.to_dict(flat=True)
        for key in ("recipients", "headers", "envelope"):  # providers send nested parts as JSON strings
            if isinstance(form.get(key), str) and form[key][:1] in "[{":
                with contextlib.suppress(ValueError):
                    form[key] = json.loads(form[key])
        return form
    return json.loads(raw.decode("utf-8"))


@functions_framework.http
def email_inbound(request: flask.Request) -> tuple[str, int, dict[str, str]]:  # noqa: PLR0911
    if request.method != "POST":
        return _answer(405, error="method not allowed")
    if (request.content_length or 0) > EMAIL_WEBHOOK_MAX_BYTES:
        return _answer(413, error="body too large")
    raw = request.get_data(cache=True)
    if len(raw) > EMAIL_WEBHOOK_MAX_BYTES:
        return _answer(413, error="body too large")
    try:
        check_email_webhook_secret(dict(request.headers))
    except BadEmailSecret as exc:
        log.warning("email webhook refused", extra={"reason": str(exc)})
        return _answer(401, error="unauthorized")
    except MissingSetting as exc:
        log.error("email webhook is not configured", extra={"missing": exc.env_var})
        return _answer(500, error=str(exc))
    try:
        email = parse_inbound_email(_payload(request, raw))
    except (MalformedEmail, ValueError, UnicodeDecodeError) as exc:
        return _answer(400, error=f"malformed email webhook: {exc}")
    result = record_verification_email(email, domain=get_settings().verify_email_domain)
    status = _STATUS[result.outcome]
    return _answer(status, outcome=result.outcome.value)
