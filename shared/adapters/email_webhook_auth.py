"""The inbound-email webhook's shared secret (``EMAIL_WEBHOOK_SECRET``).

Email providers cannot compute our HMAC over the body, but every one of them can either add a
header or call a URL with basic-auth credentials. Accepted, compared in constant time:

- ``X-Email-Webhook-Secret: <secret>``
- ``Authorization: Bearer <secret>``
- ``Authorization: Basic base64(<any user>:<secret>)``
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from shared.config import get_settings

SECRET_HEADER = "X-Email-Webhook-Secret"  # noqa: S105 - a header name


class BadEmailSecret(Exception):
    """Missing or wrong secret. Callers answer 401."""


def _get(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def presented_secret(headers: Mapping[str, str]) -> str | None:
    direct = _get(headers, SECRET_HEADER)
    if direct:
        return direct.strip()
    auth = (_get(headers, "Authorization") or "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def check_email_webhook_secret(headers: Mapping[str, str]) -> None:
    """Raise BadEmailSecret unless the request carries the configured secret (MissingSetting if unset)."""
    expected = str(get_settings().require("email_webhook_secret"))
    given = presented_secret(headers)
    if not given:
        raise BadEmailSecret("no email webhook secret presented")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise BadEmailSecret("email webhook secret does not match")
