"""The NOTIFY relay makes the same signed call pg_net would make."""

from __future__ import annotations

import json
import queue
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.adapters.webhook_signing import SIGNATURE_HEADER, verify
from tools.fakes.loopback_http import serve_in_thread
from tools.localstack.relay import NotifyRelay

pytestmark = pytest.mark.integration
SECRET = "relay-test-secret"


@pytest.fixture
def receiver():
    received: queue.Queue[tuple[str, bytes, str | None]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((self.path, body, self.headers.get(SIGNATURE_HEADER)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_thread(server, "relay-target")
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_notification_becomes_a_signed_post(db, database_url, receiver):
    url, received = receiver
    relay = NotifyRelay(database_url, {"event_dispatcher": url + "/hook"}, SECRET)
    relay.start()
    try:
        assert relay.wait_listening(10), "the relay never registered its LISTEN"
        assert relay.alive
        # The real trigger: inserting an event fires yp_webhook, which notifies after commit.
        db.execute(
            "INSERT INTO events (event_type, aggregate_type, payload)"
            " VALUES ('message.received', 'user', '{}')"
        )
        try:
            path, raw, signature = received.get(timeout=10)
        except queue.Empty:
            pytest.fail("relay never called the target")
        assert path == "/hook"
        assert json.loads(raw) == {"table": "events", "type": "INSERT"}
        verify(SECRET, raw, signature)
        with pytest.raises(queue.Empty):  # one statement, one call
            received.get(timeout=0.5)
    finally:
        relay.stop()


def test_unknown_target_and_malformed_payloads_are_skipped(db, database_url, receiver):
    url, received = receiver
    relay = NotifyRelay(database_url, {"sms_sender": url + "/"}, SECRET)
    relay.start()
    try:
        for _ in range(10):
            db.execute("SELECT pg_notify('yp_webhook', 'not json')")
            db.execute("SELECT pg_notify('yp_webhook', %s)", (json.dumps({"target": "nope", "body": {}}),))
        with pytest.raises(queue.Empty):
            received.get(timeout=1.0)
        assert relay.calls == 0
    finally:
        relay.stop()
