"""The HTTP server every stand-in runs on: one thread per request, and a listen backlog a
burst of callers fits in.

``socketserver``'s default backlog is 5. When more connections arrive at once than the
backlog holds (twenty agent turns calling the Anthropic stand-in, twenty senders calling the
Twilio stand-in), Linux drops the extra SYNs and each client retransmits its SYN after the
initial retransmission timeout, one second: a delay the real providers never add, and one
``bench.pipeline`` measured as the pipeline's own p99 (``nstat TcpExtListenOverflows``).
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer

LISTEN_BACKLOG = 1024  # connections waiting for accept(); the kernel caps it at net.core.somaxconn


class StandinHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with daemon request threads and a backlog of ``LISTEN_BACKLOG``."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
