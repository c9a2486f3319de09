"""The local stack's direct-push delivery mode (``tools/localstack/direct_push.py``): the real
publisher adapter publishes to it, and it posts what the emulator's push subscriptions post, to
the same functions, with a push subscription's retry, ordering and dead-letter rules, but
without the emulator's ~2 pushes in flight per subscription."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from shared import config
from shared.adapters import pubsub
from shared.adapters.pubsub import GooglePublisher, OutboundMessage, get_publisher
from shared.service_layer.dispatch_events import dispatch_events
from tests.backbone_support import (
    RECORDER_SOURCE,
    Receiver,
    add_event,
    dead_letters,
    event_row,
    function_app,
    handled_count,
    make_user,
    probe_and_recorder_app,
)
from tools.fakes.loopback_http import StandinHTTPServer, serve_in_thread
from tools.localstack.direct_push import DirectPush, PushTarget, routing_targets
from tools.localstack.pubsub_emulator import ensure_topology

pytestmark = [pytest.mark.integration]

PROJECT = "yp-direct"
BOUNCER_PUSH = f"projects/{PROJECT}/subscriptions/agent-bouncer-push"
DEAD = "agent-bouncer-dead-letter"
FAST = {"min_backoff": timedelta(seconds=0.2), "max_backoff": timedelta(seconds=1)}


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def publishing_to(host_port: str, project: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's publisher adapter (``get_publisher``) pointed at ``host_port``."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host_port)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    config.reset_settings_cache()
    pubsub.reset_publisher()
    try:
        yield
    finally:
        pubsub.reset_publisher()
        config.reset_settings_cache()


@contextmanager
def direct_push(targets: dict[str, list[PushTarget]], **options: Any) -> Iterator[DirectPush]:
    server = DirectPush(PROJECT, targets, **options).start()
    try:
        yield server
    finally:
        server.stop()


class Scripted:
    """A push endpoint that records each request (time, path, JSON body) and answers with the
    statuses it is given, in turn (the last one repeats); ``hold`` seconds per request."""

    def __init__(self, statuses: list[int], hold: float = 0.0) -> None:
        self.requests: list[tuple[float, str, dict[str, Any]]] = []
        self.active = 0
        self.peak = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.requests.append((time.monotonic(), self.path, body))
                    status = statuses[min(len(outer.requests), len(statuses)) - 1]
                    outer.active += 1
                    outer.peak = max(outer.peak, outer.active)
                time.sleep(hold)
                with lock:
                    outer.active -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = StandinHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Scripted:
        serve_in_thread(self._server, "scripted-push")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def messages(self) -> list[dict[str, Any]]:
        return [body["message"] for _, _, body in self.requests]


def _one_topic(url: str, *, ordered: bool = False, dead: str | None = None) -> dict[str, list[PushTarget]]:
    targets = {"agent-bouncer": [PushTarget(BOUNCER_PUSH, url, ordered, dead)]}
    if dead:
        targets[dead] = [PushTarget(f"projects/{PROJECT}/subscriptions/{dead}-push", url + "/dead")]
    return targets


def _message(n: int, key: str = "") -> OutboundMessage:
    return OutboundMessage(
        "agent-bouncer", json.dumps({"n": n}).encode(), {"kind": "event", "n": str(n)}, key
    )


@pytest.mark.pubsub
def test_direct_push_posts_the_body_the_emulator_posts(pubsub_emulator, monkeypatch):
    """The same message published through the emulator and through direct push arrives at the
    same function path with the same envelope: keys, attributes, data, subscription."""
    project = pubsub_emulator.project
    message = OutboundMessage("agent-bouncer", b'{"hi": 1}', {"kind": "event", "event_id": "e1"}, "user-1")
    with Scripted([204]) as endpoint:
        ensure_topology(project, lambda c: f"{endpoint.url}/{c.function}")
        [outcome] = get_publisher().publish_all([message])  # the fixture points it at the emulator
        assert outcome.ok, outcome.error
        _wait_for(lambda: len(endpoint.requests) == 1, 60, "the emulator's push")

        server = DirectPush(
            project, routing_targets(project, lambda c: f"{endpoint.url}/{c.function}")
        ).start()
        try:
            with publishing_to(server.host_port, project, monkeypatch):
                [direct] = get_publisher().publish_all([message])
                assert direct.ok, direct.error
                _wait_for(lambda: len(endpoint.requests) == 2, what="the direct push")
        finally:
            server.stop()

    (_, emulator_path, emulator_body), (_, direct_path, direct_body) = endpoint.requests
    assert emulator_path == direct_path == "/agent_bouncer"
    assert emulator_body.keys() == direct_body.keys() == {"message", "subscription"}
    assert direct_body["subscription"] == emulator_body["subscription"]
    assert direct_body["subscription"] == f"projects/{project}/subscriptions/agent-bouncer-push"
    emulated, pushed = emulator_body["message"], direct_body["message"]
    assert pushed.keys() == emulated.keys()
    assert pushed["attributes"] == emulated["attributes"] == {"kind": "event", "event_id": "e1"}
    assert base64.b64decode(pushed["data"]) == base64.b64decode(emulated["data"]) == b'{"hi": 1}'
    assert pushed["messageId"] == pushed["message_id"] == direct.message_id
    assert pushed["publishTime"] == pushed["publish_time"]
    timestamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert timestamp.match(pushed["publishTime"]) and timestamp.match(emulated["publishTime"])


def test_an_inserted_event_reaches_the_consumer_function_through_direct_push(db, monkeypatch):
    """The dispatcher's real publish, delivered to a real consumer function (functions-framework)."""
    receiver = Receiver(probe_and_recorder_app())
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"text": "hi"})
    with (
        receiver.running(),
        direct_push(routing_targets(PROJECT, lambda c: f"{receiver.url}/{c.function}")) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        assert dispatch_events(get_publisher()).published == 1
        _wait_for(lambda: handled_count(db, event_id) == 1, what="the probe to handle the event")
    assert event_row(db, event_id)["processed"] is True
    [request] = receiver.requests
    assert request["path"] == "/agent_bouncer"
    assert receiver.statuses == ["200 OK"]
    assert server.stats_snapshot()["acked"] == 1


def test_a_refused_push_is_redelivered_after_the_backoff_then_acknowledged(monkeypatch):
    with (
        Scripted([500, 204]) as endpoint,
        direct_push(_one_topic(endpoint.url), **FAST) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        [outcome] = get_publisher().publish_all([_message(1)])
        assert outcome.ok, outcome.error
        _wait_for(lambda: server.stats_snapshot()["acked"] == 1, what="the redelivery to be acknowledged")
        time.sleep(0.5)  # nothing more comes once acknowledged
    (first, _, body1), (second, _, body2) = endpoint.requests
    assert body1 == body2  # the same message, same id, redelivered
    assert second - first >= 0.2 * 0.9  # after the minimum backoff
    stats = server.stats_snapshot()
    assert (stats["pushes"], stats["nacked"], stats["acked"], stats["dead_lettered"]) == (2, 1, 1, 0)


def test_an_ordered_subscription_holds_a_key_until_its_head_is_acknowledged(monkeypatch):
    with (
        Scripted([500, 204]) as endpoint,
        direct_push(_one_topic(endpoint.url, ordered=True), **FAST) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        outcomes = get_publisher().publish_all([_message(n, "user-1") for n in (1, 2, 3)])
        assert all(o.ok for o in outcomes)
        _wait_for(lambda: len(endpoint.requests) == 4, what="every delivery")
    assert [m["attributes"]["n"] for m in endpoint.messages()] == ["1", "1", "2", "3"]


def test_a_message_that_exhausts_its_attempts_goes_to_the_dead_letter_topic(monkeypatch):
    with (
        Scripted([500, 500, 500, 204]) as endpoint,
        direct_push(_one_topic(endpoint.url, dead=DEAD), max_attempts=3, **FAST) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        [outcome] = get_publisher().publish_all([_message(7)])
        _wait_for(lambda: len(endpoint.requests) == 4, what="three attempts and the dead letter")
    paths = [path for _, path, _ in endpoint.requests]
    assert paths == ["/", "/", "/", "/dead"]
    _, _, dead = endpoint.requests[-1]
    assert dead["subscription"] == f"projects/{PROJECT}/subscriptions/agent-bouncer-dead-letter-push"
    attributes = dead["message"]["attributes"]
    assert attributes["n"] == "7" and attributes["kind"] == "event"
    assert attributes["CloudPubSubDeadLetterSourceSubscription"] == "agent-bouncer-push"
    assert attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "3"
    assert base64.b64decode(dead["message"]["data"]) == b'{"n": 7}'
    assert outcome.message_id != dead["message"]["messageId"]
    assert server.stats_snapshot()["dead_lettered"] == 1


def test_the_dead_letter_recorder_records_what_direct_push_gave_up_on(db, monkeypatch):
    """Unlike the emulator, direct push forwards to the dead-letter topic itself."""
    recorder = function_app("dead_letter_recorder", RECORDER_SOURCE)

    def route(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].strip("/") == "dead_letter_recorder":
            environ["PATH_INFO"] = "/"
            return recorder(environ, start_response)
        start_response("503 Service Unavailable", [("Content-Length", "0")])
        return [b""]

    receiver = Receiver(route)
    user = make_user(db)
    event_id = add_event(db, "message.received", user, {"text": "lost"})
    targets = routing_targets(PROJECT, lambda c: f"{receiver.url}/{c.function}")
    with (
        receiver.running(),
        direct_push(targets, max_attempts=2, **FAST) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        assert dispatch_events(get_publisher()).published == 1
        _wait_for(lambda: len(dead_letters(db)) == 1, what="the recorder")
    [dead] = dead_letters(db)
    assert dead["source"] == "pubsub"
    assert dead["event_id"] == event_id
    assert dead["retry_count"] == 2
    assert dead["consumer"] == "agent_bouncer" and dead["topic"] == "agent-bouncer"


def test_pushes_go_out_concurrently_not_two_at_a_time(monkeypatch):
    """The emulator keeps ~2 pushes in flight per subscription; direct push fills its pool."""
    with (
        Scripted([204], hold=0.3) as endpoint,
        direct_push(_one_topic(endpoint.url), workers=16) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        assert all(o.ok for o in get_publisher().publish_all([_message(n, f"user-{n}") for n in range(16)]))
        _wait_for(lambda: server.stats_snapshot()["acked"] == 16, what="sixteen pushes")
    # Well past the emulator's two (how far past depends on the machine's load; 6+ on a busy one).
    assert endpoint.peak >= 4
    # The server counts a push from its send to the answer, so it sees at least as many at once.
    [(subscription, peak)] = server.stats_snapshot()["peak_in_flight"].items()
    assert subscription == BOUNCER_PUSH and peak >= endpoint.peak


def test_publishing_to_an_unknown_topic_is_refused_with_not_found(monkeypatch):
    with (
        Scripted([204]) as endpoint,
        direct_push(_one_topic(endpoint.url)) as server,
        publishing_to(server.host_port, PROJECT, monkeypatch),
    ):
        publisher = GooglePublisher(PROJECT, timeout_seconds=10)
        try:
            [outcome] = publisher.publish_all([OutboundMessage("no-such-topic", b"{}", {"kind": "event"})])
        finally:
            publisher.close()
    assert not outcome.ok
    assert "NotFound" in (outcome.error or "") and "no-such-topic" in (outcome.error or "")
    assert endpoint.requests == []
