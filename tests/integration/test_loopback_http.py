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


def test_post_form_sends_the_fields_form_encoded_on_a_connection_of_its_own(echo: str) -> None:
    answer = post_form(
        echo + "/hook", {"Body": "hi & bye", "From": "+14155550123"}, headers={"X-Sig": "s"}, timeout=5
    )
    seen = answer.json()
    assert answer.status_code == 200 and answer.ok
    assert seen["method"] == "POST" and seen["path"] == "/hook"
    assert parse_qs(seen["body"]) == {"Body": ["hi & bye"], "From": ["+14155550123"]}
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["headers"]["x-sig"] == "s"
    assert seen["headers"]["connection"] == "close"


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
