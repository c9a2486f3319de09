"""Who may call our HTTP functions.

- Internal callers (the database webhook through pg_net, the local NOTIFY relay, the local
  scheduler loop) sign the raw body with ``WEBHOOK_SIGNING_SECRET``
  (``shared/adapters/webhook_signing.py``). ``authenticate_internal`` is the one check every
  internal endpoint makes; an OIDC-token branch for Cloud Scheduler belongs inside it.
- Twilio signs its webhooks with the account auth token over the public URL it called plus
  the sorted form parameters (``X-Twilio-Signature``). ``verify_twilio_request`` checks that
  against ``PUBLIC_BASE_URL`` + the path (+ query) the function saw, because behind Google's
  front end the request's own host and scheme are not the ones Twilio signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import Request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import Headers, MultiDict

from shared.adapters import webhook_signing
from shared.config import get_settings
from shared.domain.constants import WEBHOOK_MAX_BODY_BYTES

HeaderMap = Mapping[str, str] | Headers

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"


class Unauthorized(Exception):
    """An internal call without a valid signature. Callers answer 401."""


class Forbidden(Exception):
    """A provider webhook whose signature does not match. Callers answer 403."""


def _header(headers: HeaderMap, name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def authenticate_internal(headers: HeaderMap, body: bytes) -> None:
    """Raise Unauthorized unless the request carries a valid ``X-Yachtparty-Signature``, or (no
    signature header) a Cloud Scheduler OIDC ID token ``Authorization: Bearer ...``
    (``shared/adapters/oidc.py``).

    A missing ``WEBHOOK_SIGNING_SECRET`` is a deployment error and raises MissingSetting; so do
    missing ``SCHEDULER_OIDC_AUDIENCE`` / ``SCHEDULER_SERVICE_ACCOUNT_EMAIL`` for a bearer token.
    """
    authorization = _header(headers, "Authorization")
    if _header(headers, webhook_signing.SIGNATURE_HEADER) is None and authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthorized("unsupported Authorization scheme")
        from shared.adapters import oidc

        try:
            oidc.verify_scheduler_token(token.strip())
        except oidc.InvalidToken as exc:
            raise Unauthorized(str(exc)) from None
        return
    secret = get_settings().require("webhook_signing_secret")
    try:
        webhook_signing.verify(secret, body, _header(headers, webhook_signing.SIGNATURE_HEADER))
    except webhook_signing.BadSignature as exc:
        raise Unauthorized(str(exc)) from None


def public_url(path: str, query: str = "") -> str:
    """The URL Twilio called, as configured: PUBLIC_BASE_URL + path (+ ?query)."""
    base = str(get_settings().require("public_base_url")).rstrip("/")
    url = base + (path if path.startswith("/") else "/" + path)
    return url + ("?" + query if query else "")


def verify_twilio_request(url: str, params: Any, headers: HeaderMap) -> None:
    """Raise Forbidden unless ``X-Twilio-Signature`` signs ``url`` + ``params`` with the auth token.

    ``params`` is a multi-dict (``getlist``) or a plain ``dict[str, str]``.
    """
    signature = _header(headers, TWILIO_SIGNATURE_HEADER)
    if not signature:
        raise Forbidden("missing X-Twilio-Signature")
    token = get_settings().require("twilio_auth_token")
    if not RequestValidator(token).validate(url, params, signature):
        raise Forbidden("X-Twilio-Signature does not match")


class RequestRejected(Exception):
    """Bad input at an HTTP entry point: answer ``status`` with ``reason``, write nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def read_body(request: Request, *, content_type: str, max_bytes: int = WEBHOOK_MAX_BODY_BYTES) -> bytes:
    """The raw body of a POST of ``content_type``, or RequestRejected (405, 415, 413)."""
    if request.method != "POST":
        raise RequestRejected(405, "only POST is accepted")
    if (request.mimetype or "").lower() != content_type:
        raise RequestRejected(415, f"content type must be {content_type}")
    if request.content_length is not None and request.content_length > max_bytes:
        raise RequestRejected(413, f"body larger than {max_bytes} bytes")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise RequestRejected(413, f"body larger than {max_bytes} bytes")
    return body


def decode_form(body: bytes) -> MultiDict[str, str]:
    """Strictly decode an urlencoded body (invalid UTF-8 is refused, never guessed at)."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise RequestRejected(400, "form body is not valid UTF-8") from None
    return MultiDict(pairs)


def read_twilio_form(request: Request) -> MultiDict[str, str]:
    """A Twilio webhook's form parameters, after the method, size, encoding and signature checks."""
    body = read_body(request, content_type=FORM_CONTENT_TYPE)
    params = decode_form(body)
    url = public_url(request.path, request.query_string.decode("latin-1"))
    try:
        verify_twilio_request(url, params, request.headers)
    except Forbidden as exc:
        raise RequestRejected(403, str(exc)) from None
    return params
