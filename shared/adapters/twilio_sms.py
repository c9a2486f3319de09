"""Sending SMS: a small ``SmsGateway`` interface, the real ``twilio`` client behind it.

``TWILIO_API_BASE_URL`` points the real client somewhere other than Twilio (the local
stand-in, a test server): ``BaseUrlHttpClient`` rewrites the scheme and host of every
``*.twilio.com`` URL the SDK builds, so the SDK's own request and response handling is
exercised unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from shared.config import get_settings

HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str  # Twilio's MessageStatus, e.g. "queued" or "accepted"
    num_segments: int | None


class GatewayError(Exception):
    """Twilio refused or could not be reached. ``retryable`` for 429, 5xx and connection errors."""

    def __init__(self, message: str, *, status: int | None, code: int | None, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable


class SmsGateway(Protocol):
    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult: ...


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, sending ``https://*.twilio.com/...`` to ``base_url`` instead."""

    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        return urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )

    def request(  # noqa: PLR0917 - the SDK's own signature
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method, self.rewrite(url), params, data, headers, auth, timeout, allow_redirects
        )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TwilioSmsGateway:
    """The real Twilio REST client: Messaging Service SID if configured, else the From number."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base_url: str | None = None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")
        # The SDK logs every request and response line at INFO (bodies, phone numbers): keep it quiet.
        logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
        http_client = (
            BaseUrlHttpClient(api_base_url, timeout) if api_base_url else TwilioHttpClient(timeout=timeout)
        )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._from = from_number
        self._service = messaging_service_sid

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        kwargs: dict[str, Any] = {"to": to, "body": body}
        if self._service:
            kwargs["messaging_service_sid"] = self._service
        else:
            kwargs["from_"] = self._from
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self._client.messages.create(**kwargs)
        except TwilioRestException as exc:
            retryable = exc.status == 429 or exc.status >= 500
            raise GatewayError(
                str(exc.msg) or f"Twilio answered {exc.status}",
                status=exc.status,
                code=_as_int(exc.code),
                retryable=retryable,
            ) from None
        except requests.ConnectionError as exc:
            # Refused or reset before Twilio read the request: safe to try again.
            raise GatewayError(
                f"cannot reach Twilio: {exc}", status=None, code=None, retryable=True
            ) from None
        except requests.RequestException as exc:
            # A timeout after sending may have been accepted: not retried, to never text twice.
            raise GatewayError(
                f"Twilio call failed: {exc}", status=None, code=None, retryable=False
            ) from None
        return SendResult(
            sid=str(message.sid),
            status=str(message.status or "queued"),
            num_segments=_as_int(message.num_segments),
        )


@lru_cache(maxsize=4)
def _cached_gateway(
    account_sid: str, auth_token: str, from_number: str | None, service_sid: str | None, base_url: str | None
) -> TwilioSmsGateway:
    return TwilioSmsGateway(
        account_sid=account_sid,
        auth_token=auth_token,
        from_number=from_number,
        messaging_service_sid=service_sid,
        api_base_url=base_url,
    )


def default_gateway() -> SmsGateway:
    """The process-wide real gateway for the current settings, built on first use."""
    settings = get_settings()
    return _cached_gateway(
        settings.require("twilio_account_sid"),
        settings.require("twilio_auth_token"),
        settings.twilio_from_number,
        settings.twilio_messaging_service_sid,
        settings.twilio_api_base_url,
    )


STATUS_CALLBACK_MESSAGE_ID_PARAM = "message_id"


def status_callback_url(message_id: UUID | None = None) -> str | None:
    """Where Twilio posts delivery status: TWILIO_STATUS_CALLBACK_URL, else PUBLIC_BASE_URL + path.

    With ``message_id`` the URL carries ``?message_id=<our id>``: Twilio signs the whole URL,
    so the status function can find a message whose first callback arrives before the sender
    has recorded the SID Twilio gave it (see ``shared/service_layer/delivery_status.py``).
    """
    settings = get_settings()
    if settings.twilio_status_callback_url:
        url = settings.twilio_status_callback_url
    elif settings.public_base_url:
        url = settings.public_base_url.rstrip("/") + settings.twilio_status_callback_path
    else:
        return None
    if message_id is None:
        return url
    parts = urlsplit(url)
    query = urlencode(
        [*parse_qsl(parts.query, keep_blank_values=True), (STATUS_CALLBACK_MESSAGE_ID_PARAM, str(message_id))]
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
