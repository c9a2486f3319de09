"""Sending SMS: a small ``SmsGateway`` interface, the real ``twilio`` client behind it.

``TWILIO_API_BASE_URL`` points the real client somewhere other than Twilio (the local
stand-in, a test server): ``BaseUrlHttpClient`` rewrites the scheme and host of every
``*.twilio.com`` URL the SDK builds, so the SDK's own request and response handling is
exercised unchanged.

Besides sending, the gateway reads Twilio's message list (``sent_messages``): the sender's
reconciliation of a row stranded in ``sending`` looks there for the exact body before it
would ever send again (docs/sms.md). A 429 / 503's ``Retry-After`` header is read from the
response the SDK received (kept per thread by our HTTP client) and handed up on the error.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from shared.config import get_settings

HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str  # Twilio's MessageStatus, e.g. "queued" or "accepted"
    num_segments: int | None


@dataclass(frozen=True)
class TwilioMessage:
    """One message of Twilio's message list, as reconciliation reads it."""

    sid: str
    to: str
    body: str
    status: str
    error_code: int | None
    date_created: datetime | None
    date_sent: datetime | None


class GatewayError(Exception):
    """Twilio refused or could not be reached. ``retryable`` for 429, 5xx and connection errors.

    ``ambiguous``: the request may have reached Twilio and been accepted (a read timeout), so
    the outcome is unknown; the sender leaves the row for reconciliation instead of deciding.
    ``retry_after``: the seconds Twilio asked us to wait (its ``Retry-After`` header), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        code: int | None,
        retryable: bool,
        ambiguous: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.retry_after = retry_after


class SmsGateway(Protocol):
    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult: ...

    def sent_messages(self, *, to: str, sent_after: datetime, limit: int) -> list[TwilioMessage]:
        """Twilio's record of messages to ``to`` from our sender, sent on or after ``sent_after``'s
        date (Twilio's DateSent filter has day granularity), newest first. Raises GatewayError."""
        ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


TWILIO_API = "https://api.twilio.com"


def pin_environment(session: requests.Session, url: str) -> None:
    """Read once, for ``url``, what ``requests`` otherwise reads from the environment on every
    send: the proxies (``HTTPS_PROXY``, ``NO_PROXY``) and the CA bundle (``REQUESTS_CA_BUNDLE``).
    Per send it walked ``os.environ`` twice and looked for a ``.netrc``: 0.22 ms of CPU a call,
    half of what preparing the request cost (a ``.netrc`` never applies: every Twilio call carries
    its own credentials)."""
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False


class RecordingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, remembering (per thread) the last response's ``Retry-After``."""

    def __init__(self, timeout: float = HTTP_TIMEOUT_SECONDS, *, api_url: str = TWILIO_API) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()
        if self.session is not None:
            pin_environment(self.session, api_url)

    @property
    def last_retry_after(self) -> float | None:
        value: float | None = getattr(self._local, "retry_after", None)
        return value

    def target(self, url: str) -> str:
        return url

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
        self._local.retry_after = None
        response: Response = super().request(
            method, self.target(url), params, data, headers, auth, timeout, allow_redirects
        )
        response_headers = getattr(response, "headers", None) or {}
        self._local.retry_after = parse_retry_after(response_headers.get("Retry-After"))
        return response


class BaseUrlHttpClient(RecordingHttpClient):
    """The SDK's HTTP client, sending ``https://*.twilio.com/...`` to ``base_url`` instead."""

    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout, api_url=base_url)
        parts = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        return urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )

    def target(self, url: str) -> str:
        return self.rewrite(url)


def never_connected(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached Twilio: the connection was never made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


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
        self._http: RecordingHttpClient = (
            BaseUrlHttpClient(api_base_url, timeout) if api_base_url else RecordingHttpClient(timeout=timeout)
        )
        self._client = Client(account_sid, auth_token, http_client=self._http)
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
            raise self._rest_error(exc) from None
        except requests.RequestException as exc:
            if never_connected(exc):
                # Refused before Twilio read the request: safe to try again.
                raise GatewayError(
                    f"cannot reach Twilio: {exc}", status=None, code=None, retryable=True
                ) from None
            # A timeout or a dropped connection after the request went out: Twilio may have
            # accepted it. Never retried blindly (we never text twice); the sender leaves the
            # row for reconciliation.
            raise GatewayError(
                f"Twilio call failed: {exc}", status=None, code=None, retryable=False, ambiguous=True
            ) from None
        return SendResult(
            sid=str(message.sid),
            status=str(message.status or "queued"),
            num_segments=_as_int(message.num_segments),
        )

    def sent_messages(self, *, to: str, sent_after: datetime, limit: int) -> list[TwilioMessage]:
        """Twilio's message list filtered by To, From (unless a Messaging Service picks the
        number) and DateSent on or after ``sent_after``'s day."""
        kwargs: dict[str, Any] = {"to": to, "date_sent_after": sent_after, "limit": limit}
        if not self._service:
            kwargs["from_"] = self._from
        try:
            found = self._client.messages.list(**kwargs)
        except TwilioRestException as exc:
            raise self._rest_error(exc) from None
        except TwilioException as exc:  # the SDK's paging raises this for any non-200 page
            raise GatewayError(
                f"Twilio message list failed: {exc}", status=None, code=None, retryable=True
            ) from None
        except requests.RequestException as exc:
            raise GatewayError(
                f"Twilio message list failed: {exc}", status=None, code=None, retryable=True
            ) from None
        return [
            TwilioMessage(
                sid=str(m.sid),
                to=str(m.to or ""),
                body=str(m.body or ""),
                status=str(m.status or ""),
                error_code=_as_int(m.error_code),
                date_created=m.date_created,
                date_sent=m.date_sent,
            )
            for m in found
        ]

    def _rest_error(self, exc: TwilioRestException) -> GatewayError:
        retryable = exc.status == 429 or exc.status >= 500
        return GatewayError(
            str(exc.msg) or f"Twilio answered {exc.status}",
            status=exc.status,
            code=_as_int(exc.code),
            retryable=retryable,
            retry_after=self._http.last_retry_after if retryable else None,
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
