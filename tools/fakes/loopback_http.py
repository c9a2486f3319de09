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
simulator. It is ``http.client`` with kept-alive connections:

- a connection is reused only if it has been idle less than ``REUSE_IDLE_WITHIN`` (1 s), half
  of gunicorn's keep-alive (2 s, what functions-framework leaves it at), after which the server
  closes it. A connection the server closes just as a request goes out on it anyway fails that
  request before any answer (reset, or closed with no status line); such a request, on a
  reused connection only, is sent once more on a new connection. The request either never
  reached the server or reached one that closed without answering, and every local caller's
  target takes a repeat (webhooks and pushes are deduplicated, as the real providers' retries
  need). A new connection that fails is an error, as before. Kept alive, a call costs the
  function's server 0.2-0.35 ms less CPU (``bench.framework_floor``) and the caller the
  connect and the thread a stand-in starts per connection;
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
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

LISTEN_BACKLOG = 1024  # connections waiting for accept(); the kernel caps it at net.core.somaxconn
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a loopback answer larger than this is a broken stand-in
REUSE_IDLE_WITHIN = 1.0  # seconds a kept-alive connection may idle and still be reused (gunicorn closes at 2)
IDLE_PER_SERVER = 64  # kept-alive connections held per server; more are closed when done


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


class _IdleConnections:
    """Kept-alive connections by server, each with the time it was last answered on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int], list[tuple[float, http.client.HTTPConnection]]] = {}

    def take(self, server: tuple[str, int]) -> http.client.HTTPConnection | None:
        """The most recently used connection to ``server``, if still inside the reuse window.
        Each server's list is in the order the connections were given back, so when the newest
        is past the window, all are: they are closed."""
        with self._lock:
            idle = self._idle.get(server)
            if not idle:
                return None
            since, conn = idle.pop()
            if time.monotonic() - since < REUSE_IDLE_WITHIN:
                return conn
            stale = [conn, *(older for _since, older in idle)]
            idle.clear()
        for old in stale:
            old.close()
        return None

    def give(self, server: tuple[str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(server, [])
            if len(idle) < IDLE_PER_SERVER:
                idle.append((time.monotonic(), conn))
                return
        conn.close()

    def close_all(self) -> None:
        with self._lock:
            conns = [conn for idle in self._idle.values() for _since, conn in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


_IDLE = _IdleConnections()

# A reused connection the server had already closed fails with one of these before any answer.
_CLOSED_UNDER_US = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


def close_idle_connections() -> None:
    """Close every kept-alive connection this process holds. Nothing else needs to: an idle
    connection past the reuse window is closed when next looked at, and the process's exit
    closes the rest. Tests call it before stopping a server they started."""
    _IDLE.close_all()


def loopback_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str | int | float] | None = None,
    timeout: float,
) -> LoopbackResponse:
    """One HTTP call, on a kept-alive connection where one is idle (module docstring), else on
    a new one. ``params`` are added to the URL's query string."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"loopback calls are plain http to a host: {url!r}")
    target = parts.path or "/"
    query = "&".join(q for q in (parts.query, urlencode(params) if params else "") if q)
    if query:
        target += "?" + query
    server = (parts.hostname, parts.port or 80)
    try:
        conn = _IDLE.take(server)
        if conn is not None:
            try:
                return _exchange(conn, method, target, body=body, headers=headers, timeout=timeout, url=url)
            except _CLOSED_UNDER_US:
                pass  # closed by the server as the request went out: once more, on a new connection
        conn = http.client.HTTPConnection(*server, timeout=timeout)
        return _exchange(conn, method, target, body=body, headers=headers, timeout=timeout, url=url)
    except TimeoutError as exc:
        raise LoopbackTimeout(f"{method} {url}: no answer within {timeout} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise LoopbackError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc


def _exchange(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    *,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    timeout: float,
    url: str,
) -> LoopbackResponse:
    """Send one request on ``conn`` and read its whole answer; ``conn`` goes back to the idle
    connections if both sides can keep it, and is closed otherwise (an error included)."""
    kept = False
    try:
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        conn.request(method, target, body=body, headers=dict(headers or {}))
        answer = conn.getresponse()
        content = answer.read(MAX_RESPONSE_BYTES + 1)
        if len(content) > MAX_RESPONSE_BYTES:
            raise LoopbackError(f"{url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
        response = LoopbackResponse(answer.status, content, dict(answer.getheaders()), url)
        kept = not answer.will_close and answer.isclosed()
        return response
    finally:
        if kept:
            _IDLE.give((conn.host, conn.port), conn)
        else:
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
