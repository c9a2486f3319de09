"""Google-signed OIDC ID tokens from Cloud Scheduler, verified in code.

Internal HTTP functions must stay reachable by pg_net (which cannot mint tokens, so it signs
with HMAC instead); Cloud Scheduler's jobs carry ``Authorization: Bearer <ID token>`` for the
scheduler service account. The token is checked here: Google's signature (certificates from
``GOOGLE_OIDC_CERTS_URL``, default Google's), the expected audience
(``SCHEDULER_OIDC_AUDIENCE``), the issuer, and the service-account email
(``SCHEDULER_SERVICE_ACCOUNT_EMAIL``, verified).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from shared.config import get_settings

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class InvalidToken(Exception):
    """The bearer token is not a valid scheduler token; callers answer 401."""


_transport: Any = None
_transport_lock = threading.Lock()


def _request() -> Any:
    global _transport
    with _transport_lock:
        if _transport is None:
            from google.auth.transport import requests as google_requests

            _transport = google_requests.Request()
        return _transport


def verify_scheduler_token(token: str) -> Mapping[str, Any]:
    """The token's claims when it is Cloud Scheduler's; raises ``InvalidToken`` otherwise.

    Missing ``SCHEDULER_OIDC_AUDIENCE`` / ``SCHEDULER_SERVICE_ACCOUNT_EMAIL`` raise MissingSetting.
    """
    from google.oauth2 import id_token

    settings = get_settings()
    audience = settings.require("scheduler_oidc_audience")
    expected_email = settings.require("scheduler_service_account_email")
    certs_url = settings.google_oidc_certs_url or id_token._GOOGLE_OAUTH2_CERTS_URL
    if not token:
        raise InvalidToken("empty bearer token")
    try:
        claims = id_token.verify_token(token, _request(), audience=audience, certs_url=certs_url)
    except Exception as exc:  # google-auth raises ValueError / GoogleAuthError / TransportError
        raise InvalidToken(f"ID token rejected: {type(exc).__name__}: {exc}") from None
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise InvalidToken(f"unexpected issuer {claims.get('iss')!r}")
    if claims.get("email") != expected_email or claims.get("email_verified") is not True:
        raise InvalidToken("token is not for the scheduler service account")
    return claims
