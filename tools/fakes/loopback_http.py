"""HTTP on loopback for the stand-ins and the local stack's own callers.

``StandinHTTPServer``: the server every stand-in runs on, one thread per request, with a
listen backlog a burst of callers fits in. ``socketserver``'s default backlog is 5. When more
connections arrive at once than the backlog holds (twenty agent turns calling the Anthropic
stand-in, twenty senders calling the Twilio stand-in), Linux drops the extra SYNs and each
client retransmits its SYN after the initial retransmission timeout, one second: a delay the
real providers never add, and one ``bench.pipeline`` measured as the pipeline's own p99
(``nstat TcpExtListenOverflows``).

``loopback_request()`` (``post_form``, ``post_json``): the client for calls between local
parts: the pg_net relay, direct push, the Twilio and Stripe stand-ins' callbacks, the phone
simulator. It is ``http.client``, one connection per call (``Connection: close``):

- one connection per call, because a kept-alive connection the server closes just as a POST
  goes out fails that POST, and a relay call or a push that fails is a webhook that waits for
  the next sweep or a redelivery that waits for Pub/Sub's backoff (10 s at the least);
- ``http.client`` rather than ``requests``, because these callers are the test harness, not
  the product, and share the benchmark machine's cores with it: ``requests`` spent 0.65 ms of
  CPU per loopback POST against 0.23 ms here (``bench.pipeline`` makes about ten such calls per
  reply), and its session consults the environment's proxy settings on every call.

Errors subclass ``requests``' own (``LoopbackError`` is a ``requests.ConnectionError``,
``LoopbackTimeout`` a ``requests.Timeout``), so a caller that handles ``requests`` errors
handles these.
"""

from __future__ import annotations

import http.client
import json
import socketserver
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

LISTEN_BACKLOG = 1024  # connections waiting for accept(); the kernel caps it at net.core.somaxconn
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a loopback answer larger than this is a broken stand-in


SHUTDOWN_POLL = 0.05  # seconds between a serving loop's checks for shutdown()


def serve_in_thread(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Serve ``server`` on a daemon thread, started, that ``server.shutdown()`` stops within
    ``SHUTDOWN_POLL``. ``socketserver``'s default loop looks every 0.5 s, so every stop of a server
    waited up to half a second: 17 s of the member evals' 34 s went to stopping the Anthropic
    stand-in once a test."""
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL,), name=name, daemon=True)
    thread.start()
    return thread


class StandinHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with daemon request threads and a backlog of ``LISTEN_BACKLOG``."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG


class LoopbackError(requests.ConnectionError):
    """The call did not get an answer: refused, reset, or the answer was not HTTP."""


class LoopbackTimeout(requests.Timeout):
    """No answer within the timeout (connecting, or waiting for a read)."""


class LoopbackHTTPError(requests.HTTPError):
    """``raise_for_status()`` on a 4xx or 5xx answer."""


@dataclass(frozen=True)
class LoopbackResponse:
    """An answer: the parts of ``requests.Response`` the local callers read."""

    status_code: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    url: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise LoopbackHTTPError(f"{self.status_code} answered by {self.url}: {self.text[:200]}")


def loopback_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str | int | float] | None = None,
    timeout: float,
) -> LoopbackResponse:
    """One HTTP call on its own connection. ``params`` are added to the URL's query string."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"loopback calls are plain http to a host: {url!r}")
    target = parts.path or "/"
    query = "&".join(q for q in (parts.query, urlencode(params) if params else "") if q)
    if query:
        target += "?" + query
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers={"Connection": "close", **(headers or {})})
        answer = conn.getresponse()
        content = answer.read(MAX_RESPONSE_BYTES + 1)
        if len(content) > MAX_RESPONSE_BYTES:
            raise LoopbackError(f"{url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
        return LoopbackResponse(answer.status, content, dict(answer.getheaders()), url)
    except TimeoutError as exc:
        raise LoopbackTimeout(f"{method} {url}: no answer within {timeout} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise LoopbackError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def post_form(
    url: str, params: Mapping[str, str], *, headers: Mapping[str, str] | None = None, timeout: float
) -> LoopbackResponse:
    """POST ``params`` form-encoded, as Twilio posts its webhooks."""
    return loopback_request(
        "POST",
        url,
        body=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        timeout=timeout,
    )


def post_json(
    url: str, payload: Any, *, headers: Mapping[str, str] | None = None, timeout: float
) -> LoopbackResponse:
    """POST ``payload`` as compact JSON."""
    return loopback_request(
        "POST",
        url,
        body=json.dumps(payload, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=timeout,
    )
