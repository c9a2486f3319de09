"""A local stand-in for Twilio's Messages API, for the local stack and the tests.

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (HTTP basic auth: account SID and
  auth token) answers like Twilio: 201 and the message resource (``sid`` "SM" + 32 hex,
  ``status`` "queued", or "accepted" with a Messaging Service), or Twilio's error JSON.
- Every accepted message is recorded; ``GET /_sent`` (optionally ``?to=+1...``) lists them;
  ``&min_count=N&wait=S`` long-polls until there are N or S seconds pass (no busy polling).
- When the request names a ``StatusCallback``, the stand-in posts ``sent`` then
  ``delivered`` to it, signed with the auth token exactly as Twilio signs
  (``X-Twilio-Signature``, ``RequestValidator``'s algorithm).
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages.json`` lists accepted messages in
  Twilio's page format (``messages``, ``page``, ``page_size``, ``next_page_uri``...), newest
  first, filtered like Twilio by ``To``, ``From``, ``DateSent`` / ``DateSent>`` /
  ``DateSent<`` (day granularity, GMT) and paged by ``PageSize`` / ``Page``. Dates are RFC 2822
  as Twilio writes them. The real ``twilio`` client's ``messages.list`` reads it unchanged.
- ``POST /_fail`` with ``{"count": N, "status": 429|500|400, "code": 20429|20500|21610}``
  makes the next N sends fail that way (``"retry_after": S`` adds Twilio's ``Retry-After``
  header); ``{"count": N, "callback_status": "undelivered", "error_code": 30003}`` accepts
  them but reports that outcome in the callbacks; ``{"count": N, "drop": true}`` accepts and
  records them, then closes the connection without an answer (the sender cannot know);
  ``{"count": N, "delay": S}`` accepts and records them, then answers only after S seconds
  (time to kill the sender mid-call).
  ``POST /_reset`` forgets messages and pending failures.

Run: ``python -m tools.fakes.twilio_api --port 8700 --auth-token T``; in tests,
``start_in_thread(auth_token=T)`` starts one on a free port and returns a handle.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from shared.domain.constants import SMS_MAX_BODY_CHARS
from shared.domain.sms import body_length, count_segments
from tools.fakes.loopback_http import StandinHTTPServer, post_form, serve_in_thread

API_VERSION = "2010-04-01"
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_ERROR_TEXT = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


def _error(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": message or _ERROR_TEXT.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class Failure:
    status: int | None = None  # HTTP status to answer the create call with
    code: int | None = None
    callback_status: str | None = None  # accept, then report this in the status callback
    error_code: int | None = None
    retry_after: float | None = None  # Retry-After header (seconds) on a failing answer
    drop: bool = False  # accept and record the message, then close without answering
    delay: float = 0.0  # accept and record the message, then wait this long before answering


@dataclass
class StandinState:
    auth_token: str
    account_sid: str | None = None  # None: accept any account SID (the token still must match)
    callback_auth_token: str | None = None
    callback_delay: float = 0.05
    messages: list[dict[str, Any]] = field(default_factory=list)
    # The same records by recipient: a long poll for one phone counts its own messages instead
    # of scanning every message each time one arrives (twenty pollers, each woken per message).
    by_to: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    callbacks_posted: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Long polls wait on their recipient's condition (all on ``lock``), so a message wakes only
    # its own phone's poller and the pollers of every message (``None``): one condition for all
    # woke every phone's poller on every message, twenty wake-ups a reply at twenty phones.
    arrivals: dict[str | None, threading.Condition] = field(default_factory=dict)

    def arrival(self, to: str | None) -> threading.Condition:
        """The condition notified when a message to ``to`` (``None``: any message) is accepted.
        Call with ``lock`` held."""
        condition = self.arrivals.get(to)
        if condition is None:
            condition = self.arrivals[to] = threading.Condition(self.lock)
        return condition


MAX_LONG_POLL_SECONDS = 30.0


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK
    # stalls every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # kept-alive, as Twilio's API is: every answer has a Content-Length
    server_version = "twilio-standin/1"
    state: StandinState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the caller is gone (a killed sender); Twilio shrugs

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/_sent":
            self._get_sent(parse_qs(parts.query))
        elif parts.path == "/_callbacks":
            with self.state.lock:
                self._json(200, list(self.state.callbacks_posted))
        elif parts.path in ("/", "/_health"):
            self._json(200, {"ok": True})
        elif match := _MESSAGES_PATH.match(parts.path):
            self._list_messages(match["account"], parts.query)
        else:
            self._json(404, _error(404, 20404, "The requested resource was not found"))

    def _get_sent(self, query: dict[str, list[str]]) -> None:
        """``?to=`` filters; ``&min_count=N&wait=S`` long-polls until N messages or S seconds."""
        to = query.get("to", [None])[0]
        try:
            min_count = int(query.get("min_count", ["0"])[0])
            wait = min(float(query.get("wait", ["0"])[0]), MAX_LONG_POLL_SECONDS)
        except ValueError:
            self._json(400, {"error": "min_count must be an integer and wait a number of seconds"})
            return
        deadline = time.monotonic() + max(wait, 0.0)
        with self.state.lock:
            arrival = self.state.arrival(to)
            while True:
                matching = self.state.messages if to is None else self.state.by_to.get(to, [])
                remaining = deadline - time.monotonic()
                if len(matching) >= min_count or remaining <= 0:
                    break
                arrival.wait(remaining)
            found = [dict(m) for m in matching]
        self._json(200, found)

    def _list_messages(self, account: str, query: str) -> None:
        """Twilio's Messages list: filtered by To / From / DateSent, newest first, paged."""
        if not self._authorised(account):
            self._json(401, _error(401, 20003))
            return
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            bounds = _date_sent_bounds(params)
            page_size = min(max(int(params.get("PageSize", "50")), 1), 1000)
            page = max(int(params.get("Page", "0")), 0)
        except ValueError:
            self._json(400, _error(400, 20001, "Invalid filter or paging parameter"))
            return
        to, sender = params.get("To"), params.get("From")
        with self.state.lock:
            found = [
                _public(m)
                for m in reversed(self.state.messages)
                if m["account_sid"] == account
                and (to is None or m["to"] == to)
                and (sender is None or m["from"] == sender)
                and _sent_within(m, bounds)
            ]
        chunk = found[page * page_size : (page + 1) * page_size]
        base = f"/{API_VERSION}/Accounts/{account}/Messages.json"
        keep = urlencode([(k, v) for k, v in params.items() if k not in ("Page", "PageToken")])
        more = (page + 1) * page_size < len(found)
        self._json(
            200,
            {
                "messages": chunk,
                "end": page * page_size + max(len(chunk) - 1, 0),
                "first_page_uri": f"{base}?{keep}&Page=0",
                "next_page_uri": f"{base}?{keep}&Page={page + 1}&PageToken=PA{page + 1}" if more else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": f"{base}?{keep}&Page={page - 1}" if page > 0 else None,
                "start": page * page_size,
                "uri": f"{base}?{query}",
            },
        )

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self._body()
        if path == "/_fail":
            self._post_fail(raw)
            return
        if path == "/_reset":
            with self.state.lock:
                self.state.messages.clear()
                self.state.by_to.clear()
                self.state.failures.clear()
                self.state.callbacks_posted.clear()
            self._json(200, {"ok": True})
            return
        match = _MESSAGES_PATH.match(path)
        if not match:
            self._json(404, _error(404, 20404, "The requested resource was not found"))
            return
        self._create_message(match["account"], raw)

    def _post_fail(self, raw: bytes) -> None:
        try:
            spec = json.loads(raw or b"{}")
            count = int(spec.get("count", 1))
            failure = Failure(
                status=spec.get("status"),
                code=spec.get("code"),
                callback_status=spec.get("callback_status"),
                error_code=spec.get("error_code"),
                retry_after=spec.get("retry_after"),
                drop=bool(spec.get("drop", False)),
                delay=min(float(spec.get("delay", 0.0)), MAX_LONG_POLL_SECONDS),
            )
        except (ValueError, TypeError, AttributeError):
            self._json(400, {"error": "expected a JSON object"})
            return
        with self.state.lock:
            self.state.failures.extend([failure] * count)
        self._json(200, {"queued_failures": len(self.state.failures)})

    def _authorised(self, account: str) -> bool:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        expected_account = self.state.account_sid or account
        return user == account == expected_account and secrets.compare_digest(password, self.state.auth_token)

    def _create_message(self, account: str, raw: bytes) -> None:
        if not self._authorised(account):
            self._json(401, _error(401, 20003))
            return
        form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
        to, body = form.get("To"), form.get("Body", "")
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            self._json(400, _error(400, 21604))
            return
        if not body and not form.get("MediaUrl"):
            self._json(400, _error(400, 21602))
            return
        if not (sender or service):
            self._json(400, _error(400, 21603))
            return
        if body_length(body) > SMS_MAX_BODY_CHARS:
            self._json(400, _error(400, 21617))
            return
        with self.state.lock:
            failure = self.state.failures.pop(0) if self.state.failures else None
        if failure is not None and failure.status:
            status = int(failure.status)
            code = int(failure.code or (20429 if status == 429 else 20500 if status >= 500 else 21610))
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
            self._json(status, _error(status, code), headers)
            return
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        sent_at = datetime.now(UTC)
        resource = {
            "account_sid": account,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": format_datetime(sent_at).replace("-0000", "+0000"),
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{account}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/{API_VERSION}/Accounts/{account}/Messages/{sid}.json",
        }
        # received_at (epoch seconds) lets benchmarks time "webhook in -> Twilio API call".
        record = {
            **resource,
            "status_callback": form.get("StatusCallback"),
            "received_at": time.time(),
            "sent_at": sent_at.isoformat(),
        }
        with self.state.lock:
            self.state.messages.append(record)
            self.state.by_to.setdefault(to, []).append(record)
            self.state.arrival(to).notify_all()
            self.state.arrival(None).notify_all()
        if failure is not None and failure.delay > 0:
            time.sleep(failure.delay)  # a slow answer: the caller may die waiting for it
        if failure is not None and failure.drop:
            # Accepted, but the answer never reaches the caller (a crash or a cut connection).
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            self._json(201, resource)
        callback = form.get("StatusCallback")
        if callback:
            threading.Thread(
                target=_post_callbacks,
                args=(self.state, record, callback, failure),
                name=f"status-callback-{sid}",
                daemon=True,
            ).start()


_PRIVATE_FIELDS = ("status_callback", "received_at", "sent_at")


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """A recorded message as Twilio's API shows it (without the stand-in's own fields)."""
    return {k: v for k, v in record.items() if k not in _PRIVATE_FIELDS}


def _parse_day(value: str) -> date:
    """Twilio's DateSent filters: ``YYYY-MM-DD`` or an ISO 8601 time (the SDK sends
    ``YYYY-MM-DDTHH:MM:SSZ``); Twilio compares whole days (GMT)."""
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).date()


def _date_sent_bounds(params: dict[str, str]) -> tuple[date | None, date | None]:
    low = high = None
    if "DateSent" in params:
        low = high = _parse_day(params["DateSent"])
    if "DateSent>" in params:
        low = _parse_day(params["DateSent>"])
    if "DateSent<" in params:
        high = _parse_day(params["DateSent<"])
    return low, high


def _sent_within(record: dict[str, Any], bounds: tuple[date | None, date | None]) -> bool:
    day = datetime.fromisoformat(record["sent_at"]).date()
    low, high = bounds
    return (low is None or day >= low) and (high is None or day <= high)


def _post_callbacks(state: StandinState, record: dict[str, Any], url: str, failure: Failure | None) -> None:
    final: list[tuple[str, int | None]] = [("sent", None), ("delivered", None)]
    if failure is not None and failure.callback_status:
        final = [("sent", None), (failure.callback_status, failure.error_code)]
    for status, error_code in final:
        time.sleep(state.callback_delay)
        params = {
            "AccountSid": record["account_sid"],
            "ApiVersion": API_VERSION,
            "From": record["from"] or "",
            "MessageSid": record["sid"],
            "MessageStatus": status,
            "SmsSid": record["sid"],
            "SmsStatus": status,
            "To": record["to"],
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        token = state.callback_auth_token or state.auth_token
        signature = RequestValidator(token).compute_signature(url, params)
        outcome: dict[str, Any] = {"sid": record["sid"], "status": status, "url": url}
        try:
            response = post_form(url, params, headers={"X-Twilio-Signature": signature}, timeout=10)
            outcome["http_status"] = response.status_code
        except (requests.RequestException, ValueError) as exc:
            # ValueError: a URL the stand-in cannot call (https, as a test's public base URL
            # is); Twilio records an unreachable callback and goes on, and so does this
            outcome["error"] = str(exc)
        with state.lock:
            record["status"] = status
            state.callbacks_posted.append(outcome)


class TwilioStandin:
    """A running stand-in: ``url``, the recorded ``sent`` messages, ``fail()``, ``stop()``."""

    def __init__(
        self,
        *,
        auth_token: str,
        account_sid: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_delay: float = 0.05,
    ) -> None:
        self.state = StandinState(
            auth_token=auth_token, account_sid=account_sid, callback_delay=callback_delay
        )
        handler = type("StandinHandler", (_Handler,), {"state": self.state})
        self._server = StandinHTTPServer((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> TwilioStandin:
        if self._thread is not None:
            return self
        self._thread = serve_in_thread(self._server, "twilio-standin")
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TwilioStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(m) for m in self.state.messages]

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.callbacks_posted)

    def fail(
        self,
        count: int = 1,
        *,
        status: int | None = None,
        code: int | None = None,
        callback_status: str | None = None,
        error_code: int | None = None,
        retry_after: float | None = None,
        drop: bool = False,
        delay: float = 0.0,
    ) -> None:
        with self.state.lock:
            self.state.failures.extend(
                [Failure(status, code, callback_status, error_code, retry_after, drop, delay)] * count
            )

    def set_status_callback_auth(self, auth_token: str) -> None:
        """Sign status callbacks with this token (the receiving functions' TWILIO_AUTH_TOKEN)."""
        self.state.callback_auth_token = auth_token


def start_in_thread(
    *, auth_token: str, account_sid: str | None = None, port: int = 0, callback_delay: float = 0.05
) -> TwilioStandin:
    return TwilioStandin(
        auth_token=auth_token, account_sid=account_sid, port=port, callback_delay=callback_delay
    ).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fakes.twilio_api", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--account-sid", default=None)
    parser.add_argument("--callback-delay", type=float, default=0.05)
    args = parser.parse_args(argv)
    standin = TwilioStandin(
        auth_token=args.auth_token,
        account_sid=args.account_sid,
        host=args.host,
        port=args.port,
        callback_delay=args.callback_delay,
    )
    print(f"Twilio stand-in on {standin.url}", flush=True)
    try:
        standin._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin._server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
