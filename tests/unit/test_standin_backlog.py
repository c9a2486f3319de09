"""The stand-ins take a burst of connections at once (tools/fakes/loopback_http.py).

With ``socketserver``'s default listen backlog of 5, Linux drops the SYNs of a sixth and later
simultaneous connection and the client retransmits one second later: ``bench.pipeline``
measured that second as the pipeline's own p99. Here each stand-in is built but not serving,
so nothing is accepted: every connection must fit in the backlog. With a backlog of 5 the
later connects never complete and time out.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from tools.fakes.anthropic_api import AnthropicFake
from tools.fakes.apify_api import ApifyFake
from tools.fakes.loopback_http import LISTEN_BACKLOG
from tools.fakes.stripe_api import StripeStandin
from tools.fakes.twilio_api import TwilioStandin

BURST = 64  # well over socketserver's 5, and over the 20 concurrent members bench.pipeline runs
CONNECT_TIMEOUT = 10.0  # a dropped SYN is retried after 1 s, 3 s, 7 s...: never within the backlog's reach

STANDINS: dict[str, Callable[[], Any]] = {
    "twilio": lambda: TwilioStandin(auth_token="backlog-test"),
    "anthropic": AnthropicFake,
    "stripe": lambda: StripeStandin(api_key="sk_test_backlog", webhook_secret="whsec_backlog"),
    "apify": ApifyFake,
}


@pytest.mark.parametrize("name", sorted(STANDINS))
def test_a_burst_of_connections_fits_in_the_stand_ins_backlog(name: str) -> None:
    assert BURST <= LISTEN_BACKLOG
    standin = STANDINS[name]()
    server = standin._server  # built and listening, never accepting
    host, port = server.server_address[:2]
    sockets: list[socket.socket] = []
    try:
        for _ in range(BURST):
            sockets.append(socket.create_connection((host, port), timeout=CONNECT_TIMEOUT))
        assert len(sockets) == BURST
    finally:
        for sock in sockets:
            sock.close()
        server.server_close()
