"""The local parts' HTTP client (tools/fakes/loopback_http.py) against a real loopback server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tools.fakes import loopback_http
from tools.fakes.loopback_http import (
    LoopbackError,
    LoopbackHTTPError,
    LoopbackTimeout,
    StandinHTTPServer,
    loopback_request,
    post_form,
    post_json,
    serve_in_thread,
)


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received; ``/slow`` waits 2 s first, ``/teapot`` 418s."""

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/slow"):
            time.sleep(2)
        status = 418 if self.path.startswith("/teapot") else 200
        payload = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode(),
        }
        raw = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # /slow: the client gave up first
            return

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def echo() -> Iterator[str]:
    server = StandinHTTPServer(("127.0.0.1", 0), _Echo)
    serve_in_thread(server, "echo")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_post_form_sends_the_fields_form_encoded(echo: str) -> None:
    answer = post_form(
        echo + "/hook", {"Body": "hi & bye", "From": "+14155550123"}, headers={"X-Sig": "s"}, timeout=5
    )
    seen = answer.json()
    assert answer.status_code == 200 and answer.ok
    assert seen["method"] == "POST" and seen["path"] == "/hook"
    assert parse_qs(seen["body"]) == {"Body": ["hi & bye"], "From": ["+14155550123"]}
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["headers"]["x-sig"] == "s"


def test_post_json_and_query_parameters(echo: str) -> None:
    seen = post_json(echo + "/push", {"message": {"data": "eA=="}}, timeout=5).json()
    assert json.loads(seen["body"]) == {"message": {"data": "eA=="}}
    assert seen["headers"]["content-type"] == "application/json"
    got = loopback_request(
        "GET", echo + "/_sent?to=%2B1", params={"min_count": 2, "wait": 0.5}, timeout=5
    ).json()
    assert parse_qs(urlsplit(got["path"]).query) == {"to": ["+1"], "min_count": ["2"], "wait": ["0.5"]}


def test_an_error_status_is_an_answer_until_raise_for_status(echo: str) -> None:
    answer = loopback_request("GET", echo + "/teapot", timeout=5)
    assert answer.status_code == 418 and not answer.ok
    with pytest.raises(LoopbackHTTPError, match="418") as raised:
        answer.raise_for_status()
    assert isinstance(raised.value, requests.HTTPError)


def test_no_listener_is_a_connection_error_that_requests_handlers_catch() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this socket closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LoopbackError) as raised:
        post_json(f"http://127.0.0.1:{port}/", {}, timeout=5)
    assert isinstance(raised.value, requests.RequestException)


def test_a_slow_answer_times_out(echo: str) -> None:
    with pytest.raises(LoopbackTimeout) as raised:
        loopback_request("GET", echo + "/slow", timeout=0.2)
    assert isinstance(raised.value, requests.Timeout)


@pytest.mark.parametrize("url", ["https://127.0.0.1:1/", "ftp://127.0.0.1/", "http:///nohost"])
def test_only_plain_http_to_a_host(url: str) -> None:
    with pytest.raises(ValueError, match="plain http"):
        loopback_request("GET", url, timeout=1)


class _KeptAlive(_Echo):
    """``_Echo`` on HTTP/1.1 (kept-alive), noting each request's client port; with
    ``close_after`` set it closes the connection after each answer without saying so, as a
    server does whose keep-alive ran out just as the next request left the client."""

    protocol_version = "HTTP/1.1"
    ports: list[int]
    close_after = False

    def _answer(self) -> None:
        self.ports.append(self.client_address[1])
        super()._answer()
        if self.close_after:
            self.close_connection = True

    do_GET = do_POST = _answer


def _kept_alive_server(*, close_after: bool) -> tuple[StandinHTTPServer, list[int]]:
    ports: list[int] = []
    handler = type("Handler", (_KeptAlive,), {"ports": ports, "close_after": close_after})
    server = StandinHTTPServer(("127.0.0.1", 0), handler)
    serve_in_thread(server, "kept-alive")
    return server, ports


@pytest.fixture
def kept_alive() -> Iterator[tuple[str, list[int]]]:
    server, ports = _kept_alive_server(close_after=False)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", ports
    finally:
        loopback_http.close_idle_connections()
        server.shutdown()
        server.server_close()


def test_calls_to_a_kept_alive_server_share_one_connection(kept_alive: tuple[str, list[int]]) -> None:
    url, ports = kept_alive
    for i in range(3):
        assert post_json(url + "/push", {"i": i}, timeout=5).json()["body"] == f'{{"i":{i}}}'
    assert len(ports) == 3 and len(set(ports)) == 1


def test_a_connection_idle_past_the_window_is_not_reused(
    kept_alive: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ports = kept_alive
    monkeypatch.setattr(loopback_http, "REUSE_IDLE_WITHIN", 0.05)
    post_json(url + "/push", {}, timeout=5)
    time.sleep(0.1)
    post_json(url + "/push", {}, timeout=5)
    assert len(ports) == 2 and ports[0] != ports[1]


def test_a_server_that_closes_after_each_answer_is_not_reused(echo: str) -> None:
    # _Echo speaks HTTP/1.0: each answer ends its connection, so nothing is kept
    first = post_json(echo + "/a", {}, timeout=5)
    second = post_json(echo + "/b", {}, timeout=5)
    assert first.ok and second.ok
    assert loopback_http._IDLE.take(("127.0.0.1", int(urlsplit(echo).port or 0))) is None


def test_a_kept_connection_the_server_closed_is_retried_once_on_a_new_one() -> None:
    server, ports = _kept_alive_server(close_after=True)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        post_json(url + "/first", {}, timeout=5)
        time.sleep(0.1)  # the server has closed it; the client still holds it as idle
        answer = post_json(url + "/second", {"n": 2}, timeout=5)
        assert answer.ok and answer.json()["path"] == "/second"
        # the second request reached the server once, on a new connection
        assert len(ports) == 2 and ports[0] != ports[1]
    finally:
        loopback_http.close_idle_connections()
        server.shutdown()
        server.server_close()
