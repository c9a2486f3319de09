"""A local stand-in for the parts of Stripe's API Yachtparty uses, in Stripe's wire formats.

- ``POST /v1/checkout/sessions`` (``Authorization: Bearer sk_...``, form-encoded with Stripe's
  bracket notation, ``Idempotency-Key`` honoured: the same key returns the same session, a key
  reused with other parameters is a 400 ``idempotency_error``) answers a ``checkout.session``
  object: ``id`` ``cs_test_...``, ``amount_total`` from the line items, ``client_reference_id``,
  ``metadata``, ``payment_status`` "unpaid", ``status`` "open", ``url`` on this stand-in.
- ``GET /v1/checkout/sessions/{id}`` retrieves one; unknown ids are a 404 ``resource_missing``.
- ``GET /c/pay/{id}`` is the "hosted payment page": a form whose button pays (``POST``).
- Paying (the page, or ``POST /_pay/{id}`` with optional JSON ``{"times": N, "amount_total": X}``)
  marks the session ``complete``/``paid`` and posts a ``checkout.session.completed`` Event object
  to the webhook URL, signed exactly as Stripe signs: ``Stripe-Signature: t=<unix>,v1=<hex
  HMAC-SHA256 of "t.payload" keyed by the endpoint secret>``. ``times`` redelivers the same
  event (same id), as Stripe does on retries; ``amount_total`` forges a different amount.
- ``GET /_sessions`` lists the sessions; ``sign_payload`` and ``event_for`` build signed events in
  tests.

Run: ``python -m tools.fakes.stripe_api --port 8702 --api-key sk_test_x --webhook-secret whsec_x
--webhook-url http://127.0.0.1:8080/``; in tests, ``start_in_thread(...)``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tools.fakes.loopback_http import StandinHTTPServer, loopback_request, serve_in_thread

API_VERSION = "2025-09-30.clover"
_SESSION_PATH = re.compile(r"^/v1/checkout/sessions/(?P<id>cs_test_[A-Za-z0-9]+)$")
_PAY_PAGE = re.compile(r"^/c/pay/(?P<id>cs_test_[A-Za-z0-9]+)$")
_PAY_CONTROL = re.compile(r"^/_pay/(?P<id>cs_test_[A-Za-z0-9]+)$")


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload`` (Stripe's v1 scheme)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode("utf-8"), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_for(session: dict[str, Any], event_type: str = "checkout.session.completed") -> dict[str, Any]:
    """A Stripe Event object wrapping ``session`` (a snapshot payload)."""
    return {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def _error(kind: str, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"type": kind, "message": message}
    if param:
        err["param"] = param
    if code:
        err["code"] = code
    return {"error": err}


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's bracket notation (``line_items[0][price_data][unit_amount]=100``) to nested values."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    decoded: dict[str, Any] = _lists(root)
    return decoded


def _lists(node: Any) -> Any:  # nested dicts with 0..n keys become lists
    if isinstance(node, dict):
        converted = {k: _lists(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


@dataclass
class StandinState:
    api_key: str
    webhook_secret: str
    webhook_url: str | None = None
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (params, session id)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    public_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: StandinState
    server_version = "stripe-standin/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", "req_" + secrets.token_hex(7))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization") or ""
        if auth != f"Bearer {self.state.api_key}":
            self._json(401, _error("invalid_request_error", "Invalid API Key provided."))
            return False
        return True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_sessions":
            with self.state.lock:
                self._json(200, {"data": list(self.state.sessions.values())})
            return
        if path == "/_deliveries":
            with self.state.lock:
                self._json(200, {"data": list(self.state.deliveries)})
            return
        page = _PAY_PAGE.match(path)
        if page:
            self._pay_page(page["id"])
            return
        match = _SESSION_PATH.match(path)
        if match:
            if not self._authorised():
                return
            with self.state.lock:
                session = self.state.sessions.get(match["id"])
            if session is None:
                self._json(
                    404,
                    _error(
                        "invalid_request_error",
                        f"No such checkout.session: '{match['id']}'",
                        param="session",
                        code="resource_missing",
                    ),
                )
            else:
                self._json(200, session)
            return
        self._json(404, _error("invalid_request_error", f"Unrecognized request URL (GET: {path})."))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self._body()
        if path == "/v1/checkout/sessions":
            if self._authorised():
                self._create(raw.decode("utf-8"))
            return
        page = _PAY_PAGE.match(path)
        control = _PAY_CONTROL.match(path)
        if page or control:
            session_id = (page or control)[1]  # type: ignore[index]
            options = json.loads(raw or b"{}") if control else {}
            result = pay(self.state, session_id, **options)
            if page:
                body = f"<p>Paid. Webhook answers: {html.escape(str(result['statuses']))}</p>".encode()
                self._send(200 if result["found"] else 404, body, "text/html; charset=utf-8")
            else:
                self._json(200 if result["found"] else 404, result)
            return
        self._json(404, _error("invalid_request_error", f"Unrecognized request URL (POST: {path})."))

    def _create(self, body: str) -> None:
        params = decode_form(body)
        key = self.headers.get("Idempotency-Key")
        with self.state.lock:
            if key and key in self.state.idempotency:
                stored_body, session_id = self.state.idempotency[key]
                if stored_body != body:
                    self._json(
                        400,
                        _error(
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were"
                            " first used with.",
                        ),
                    )
                else:
                    self._json(200, self.state.sessions[session_id])
                return
        missing = [p for p in ("mode", "success_url") if not params.get(p)]
        items = params.get("line_items")
        if missing or not isinstance(items, list) or not items:
            param = missing[0] if missing else "line_items"
            self._json(400, _error("invalid_request_error", f"Missing required param: {param}.", param=param))
            return
        try:
            total = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
            currency = str(items[0]["price_data"]["currency"]).lower()
        except (KeyError, TypeError, ValueError):
            self._json(400, _error("invalid_request_error", "Invalid line_items.", param="line_items"))
            return
        session_id = "cs_test_" + secrets.token_hex(24)
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_details": None,
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": params["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"{self.state.public_url}/c/pay/{session_id}",
        }
        with self.state.lock:
            self.state.sessions[session_id] = session
            if key:
                self.state.idempotency[key] = (body, session_id)
        self._json(200, session)

    def _pay_page(self, session_id: str) -> None:
        with self.state.lock:
            session = self.state.sessions.get(session_id)
        if session is None:
            self._send(404, b"<p>No such Checkout Session.</p>", "text/html; charset=utf-8")
            return
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        body = (
            "<!doctype html><meta name=viewport content='width=device-width'><title>Pay</title>"
            f"<p>Stripe stand-in: pay {html.escape(amount)}</p>"
            f"<form method=post><button type=submit>Pay</button></form>"
        )
        self._send(200, body.encode(), "text/html; charset=utf-8")


def pay(
    state: StandinState,
    session_id: str,
    *,
    times: int = 1,
    amount_total: int | None = None,
    webhook_url: str | None = None,
) -> dict[str, Any]:
    """Complete a session and deliver its signed ``checkout.session.completed`` ``times`` times."""
    with state.lock:
        session = state.sessions.get(session_id)
        if session is None:
            return {"found": False, "statuses": []}
        session.update(status="complete", payment_status="paid")
        snapshot = dict(session)
    if amount_total is not None:
        snapshot["amount_total"] = amount_total
    event = event_for(snapshot)
    payload = json.dumps(event)
    url = webhook_url or state.webhook_url
    statuses: list[int] = []
    for _ in range(max(1, times)):
        if not url:
            break
        header = sign_payload(payload, state.webhook_secret)
        try:
            response = loopback_request(
                "POST",
                url,
                body=payload.encode(),
                headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
                timeout=10,
            )
            statuses.append(response.status_code)
        except requests.RequestException:
            statuses.append(0)
    with state.lock:
        state.deliveries.append({"event_id": event["id"], "session": session_id, "statuses": statuses})
    return {"found": True, "event_id": event["id"], "statuses": statuses}


class StripeStandin:
    """A running stand-in: ``url``, ``sessions``, ``pay()``, ``stop()``."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        webhook_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = StandinState(api_key=api_key, webhook_secret=webhook_secret, webhook_url=webhook_url)
        handler = type("StripeStandinHandler", (_Handler,), {"state": self.state})
        self._server = StandinHTTPServer((host, port), handler)
        self.state.public_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StripeStandin:
        if self._thread is None:
            self._thread = serve_in_thread(self._server, "stripe-standin")
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StripeStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        with self.state.lock:
            return {k: dict(v) for k, v in self.state.sessions.items()}

    def pay(
        self,
        session_id: str,
        *,
        times: int = 1,
        amount_total: int | None = None,
        webhook_url: str | None = None,
    ) -> dict[str, Any]:
        return pay(self.state, session_id, times=times, amount_total=amount_total, webhook_url=webhook_url)


def start_in_thread(
    *, api_key: str, webhook_secret: str, webhook_url: str | None = None, port: int = 0
) -> StripeStandin:
    return StripeStandin(
        api_key=api_key, webhook_secret=webhook_secret, webhook_url=webhook_url, port=port
    ).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fakes.stripe_api", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--webhook-secret", required=True)
    parser.add_argument("--webhook-url", default=None)
    args = parser.parse_args(argv)
    standin = StripeStandin(
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        webhook_url=args.webhook_url,
        host=args.host,
        port=args.port,
    )
    print(f"Stripe stand-in on {standin.url}", flush=True)
    try:
        standin._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin._server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
