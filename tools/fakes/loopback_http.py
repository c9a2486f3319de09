"""HTTP on loopback for the stand-ins and the local stack's own callers.

``StandinHTTPServer``: the server every stand-in runs on, one thread per request, with a
listen backlog a burst of callers fits in. ``socketserver``'s default backlog is 5. When more
connections arrive at once than the backlog holds (twenty agent turns calling the Anthropic
stand-in, twenty senders calling the Twilio stand-in), Linux drops the extra SYNs and each
client retransmits its SYN after the initial retransmission timeout, one second: a delay the
real providers never add, and one ``bench.pipeline`` measured as the pipeline's own p99
(``nstat TcpExtListenOverflows``).

``loopback_session()``: one ``requests.Session`` per process for calls between local parts
(the pg_net relay, the Twilio stand-in's status callbacks, the phone simulator), which does not
consult the environment's proxy settings. Each ``requests.post`` would otherwise build a
session and read the environment: under load that was the largest CPU cost of the stack's
runner. Each call still opens its own connection (``Connection: close``): a kept-alive
connection the server closes just as a POST goes out fails that POST, and a relay call that
fails is a webhook that waits for the next sweep.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import requests
from requests.adapters import HTTPAdapter

LISTEN_BACKLOG = 1024  # connections waiting for accept(); the kernel caps it at net.core.somaxconn
# Connections a session holds per host: at least the callers at once, or urllib3 logs a warning
# per surplus connection (its default is 10; bench.load's relay passed 64). Slots are lazy.
SESSION_POOL_PER_HOST = LISTEN_BACKLOG


class StandinHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with daemon request threads and a backlog of ``LISTEN_BACKLOG``."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG


_session: requests.Session | None = None
_session_lock = threading.Lock()


def loopback_session() -> requests.Session:
    """The process's session for loopback calls (thread-safe to share: urllib3's pool is)."""
    global _session
    with _session_lock:
        if _session is None:
            session = requests.Session()
            session.trust_env = False  # loopback only: no proxy, .netrc or CA bundle lookups
            session.headers["Connection"] = "close"
            session.mount("http://", HTTPAdapter(pool_maxsize=SESSION_POOL_PER_HOST))
            _session = session
        return _session
