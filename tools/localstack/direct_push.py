"""Direct push: the local stack's delivery mode with the Pub/Sub emulator's push ceiling taken out.

``python -m tools.localstack --push direct`` (or ``YP_LOCAL_PUSH=direct``) starts this server
beside the emulator and points the functions' ``PUBSUB_EMULATOR_HOST`` at it. It speaks the
part of the Pub/Sub gRPC API a publisher uses (``google.pubsub.v1.Publisher``: ``Publish``,
``GetTopic``, ``CreateTopic``), so the real ``google-cloud-pubsub`` client in
``shared.adapters.pubsub`` publishes to it unchanged, and it delivers every published message
straight to the push endpoints of the topic's subscriptions, as a push subscription does:

- the same routing as the emulator mode: the topics and push subscriptions come from
  ``shared.routing`` exactly as ``pubsub_emulator.ensure_topology`` creates them (one consumer
  per topic, each ``<topic>-dead-letter`` topic to the dead_letter_recorder; no filters);
- the same body the emulator posts: ``{"message": {"data": <base64>, "attributes", "messageId",
  "message_id", "publishTime", "publish_time"}, "subscription": <path>}``;
- the same outcome rules: a 102/200/201/202/204 answer acknowledges; anything else (or no
  answer within the ack deadline) is redelivered after an exponential backoff between the
  subscription's minimum and maximum; after ``max_attempts`` the message goes to the
  subscription's dead-letter topic with the ``CloudPubSubDeadLetterSource*`` attributes;
- ordering: for an ordered subscription, one message per ordering key is in flight, the next
  goes once the previous one is acknowledged (or dead-lettered);
- concurrency: deliveries run on a bounded thread pool (``workers``), not ~2 per subscription.

It is a local-stack tool for measuring the platform without the emulator's delivery limits
(``bench.pipeline``); production publishes to Pub/Sub, and the stack's default stays the
emulator. Nothing in ``shared`` or ``functions`` knows it exists.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import requests
from google.pubsub_v1 import types as pubsub_types

from shared.domain.constants import (
    PUBSUB_ACK_DEADLINE,
    PUBSUB_MAX_BACKOFF,
    PUBSUB_MAX_DELIVERY_ATTEMPTS,
    PUBSUB_MIN_BACKOFF,
)
from shared.logs import get_logger
from shared.routing import (
    Consumer,
    all_topics,
    dead_letter_subscription,
    dead_letter_topic,
    push_subscription,
)
from tools.fakes.loopback_http import post_json
from tools.localstack.pgcluster import free_port

log = get_logger(__name__)

MODES = ("emulator", "direct")  # the stack's Pub/Sub delivery modes; "emulator" is the default
ACK_STATUSES = frozenset({102, 200, 201, 202, 204})  # what a push endpoint answers to acknowledge
DEFAULT_WORKERS = 64  # deliveries in flight at once, across all subscriptions
ATTR_SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
ATTR_SOURCE_DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
ATTR_SOURCE_PROJECT = "CloudPubSubDeadLetterSourceSubscriptionProject"
ATTR_SOURCE_TOPIC_PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"


@dataclass(frozen=True)
class PushTarget:
    """One push subscription: where its topic's messages go."""

    subscription: str  # full path, projects/<p>/subscriptions/<name>
    endpoint: str
    ordered: bool = False
    dead_letter_topic: str | None = None  # topic id; None: no dead-letter policy


def routing_targets(project: str, push_endpoint: Callable[[Consumer], str]) -> dict[str, list[PushTarget]]:
    """topic id -> its push subscriptions, as ``pubsub_emulator.ensure_topology`` creates them."""
    from tools.localstack.pubsub_emulator import DEAD_LETTER_RECORDER

    def path(name: str) -> str:
        return f"projects/{project}/subscriptions/{name}"

    targets: dict[str, list[PushTarget]] = {}
    for topic, consumer in all_topics():
        dead = dead_letter_topic(topic)
        main = PushTarget(path(push_subscription(consumer)), push_endpoint(consumer), consumer.ordered, dead)
        recorder = PushTarget(path(dead_letter_subscription(topic)), push_endpoint(DEAD_LETTER_RECORDER))
        targets[topic] = [main]
        targets[dead] = [recorder]
    return targets


@dataclass
class _Message:
    message_id: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str
    publish_time: str


@dataclass
class _Delivery:
    target: PushTarget
    message: _Message
    attempt: int = 0  # deliveries made so far

    @property
    def key(self) -> tuple[str, str] | None:
        """The ordering lane, or None when the message may go alongside any other."""
        if self.target.ordered and self.message.ordering_key:
            return (self.target.subscription, self.message.ordering_key)
        return None


@dataclass
class PushStats:
    """What the server did; ``peak_in_flight`` per subscription is the evidence the bench prints."""

    published: int = 0
    pushes: int = 0
    acked: int = 0
    nacked: int = 0
    dead_lettered: int = 0
    in_flight: dict[str, int] = field(default_factory=dict)
    peak_in_flight: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "pushes": self.pushes,
            "acked": self.acked,
            "nacked": self.nacked,
            "dead_lettered": self.dead_lettered,
            "peak_in_flight": dict(sorted(self.peak_in_flight.items())),
        }


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the emulator writes ``publishTime``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class DirectPush:
    """A Publisher-API gRPC server that pushes every published message straight to its topic's
    push endpoints (see the module docstring). ``start()`` / ``stop()``; ``host_port`` is what
    ``PUBSUB_EMULATOR_HOST`` names."""

    def __init__(
        self,
        project: str,
        targets: dict[str, list[PushTarget]],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = DEFAULT_WORKERS,
        min_backoff: timedelta = PUBSUB_MIN_BACKOFF,
        max_backoff: timedelta = PUBSUB_MAX_BACKOFF,
        max_attempts: int = PUBSUB_MAX_DELIVERY_ATTEMPTS,
        ack_deadline: timedelta = PUBSUB_ACK_DEADLINE,
        stats_path: Path | None = None,
    ) -> None:
        self.project = project
        self.host = host
        self.port = port or free_port()
        self.stats = PushStats()
        self._targets = {topic: list(subs) for topic, subs in targets.items()}
        self._min_backoff = min_backoff.total_seconds()
        self._max_backoff = max_backoff.total_seconds()
        self._max_attempts = max_attempts
        self._timeout = ack_deadline.total_seconds()
        self._stats_path = stats_path
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._lanes: dict[tuple[str, str], deque[_Delivery]] = {}  # ordering lane -> waiting, head in flight
        self._pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="direct-push")
        self._timers: list[tuple[float, int, _Delivery]] = []
        self._timer_seq = itertools.count()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._timer_thread = threading.Thread(target=self._run_timers, name="direct-push-timers", daemon=True)
        rpc_pool = futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="direct-push-rpc")
        self._server = grpc.server(rpc_pool)
        self._server.add_generic_rpc_handlers((self._publisher_service(),))
        self._server.add_insecure_port(f"{host}:{self.port}")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.host_port, "GOOGLE_CLOUD_PROJECT": self.project}

    def start(self) -> DirectPush:
        self._server.start()
        self._timer_thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._server.stop(grace=1).wait(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._timer_thread.join(timeout=5)
        if self._stats_path is not None:
            self._stats_path.write_text(json.dumps(self.stats_snapshot(), indent=2))

    def stats_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.stats.as_dict()

    # -- publishing ------------------------------------------------------------------------

    def publish(self, topic: str, messages: Iterable[pubsub_types.PubsubMessage]) -> list[str]:
        """Accept messages for a topic id; returns their ids. KeyError for an unknown topic."""
        subscriptions = self._targets[topic]
        now = _timestamp(datetime.now(UTC))
        ids: list[str] = []
        for incoming in messages:
            message = _Message(
                message_id=str(next(self._ids)),
                data=bytes(incoming.data),
                attributes=dict(incoming.attributes),
                ordering_key=incoming.ordering_key,
                publish_time=now,
            )
            ids.append(message.message_id)
            with self._lock:
                self.stats.published += 1
            for target in subscriptions:
                self._enqueue(_Delivery(target, message))
        return ids

    def _enqueue(self, delivery: _Delivery) -> None:
        key = delivery.key
        with self._lock:
            if key is not None:
                lane = self._lanes.setdefault(key, deque())
                lane.append(delivery)
                if len(lane) > 1:
                    return  # waits until the one ahead of it is acknowledged
            if self._stopping:
                return
        self._submit(delivery)

    # -- delivering ------------------------------------------------------------------------

    def envelope(self, delivery: _Delivery) -> dict[str, Any]:
        """The push body, key for key as the emulator posts it (checked against gcloud 528's:
        no ``orderingKey`` and no ``deliveryAttempt``; functions-framework drops the latter)."""
        message = delivery.message
        body: dict[str, Any] = {
            "data": base64.b64encode(message.data).decode("ascii"),
            "messageId": message.message_id,
            "message_id": message.message_id,
            "publishTime": message.publish_time,
            "publish_time": message.publish_time,
            "attributes": dict(message.attributes),
        }
        return {"message": body, "subscription": delivery.target.subscription}

    def _push(self, delivery: _Delivery) -> None:
        subscription = delivery.target.subscription
        with self._lock:
            delivery.attempt += 1
            self.stats.pushes += 1
            active = self.stats.in_flight.get(subscription, 0) + 1
            self.stats.in_flight[subscription] = active
            peak = max(active, self.stats.peak_in_flight.get(subscription, 0))
            self.stats.peak_in_flight[subscription] = peak
        status: int | None = None
        try:
            answer = post_json(delivery.target.endpoint, self.envelope(delivery), timeout=self._timeout)
            status = answer.status_code
        except requests.RequestException as exc:
            log.warning("direct push failed", extra={"subscription": subscription, "error": str(exc)})
        finally:
            with self._lock:
                self.stats.in_flight[subscription] -= 1
        if status in ACK_STATUSES:
            with self._lock:
                self.stats.acked += 1
            self._done(delivery)
            return
        if status is not None:
            log.warning("direct push refused", extra={"subscription": subscription, "status": status})
        self._nack(delivery)

    def _nack(self, delivery: _Delivery) -> None:
        with self._lock:
            self.stats.nacked += 1
        if delivery.attempt >= self._max_attempts and delivery.target.dead_letter_topic is not None:
            self._dead_letter(delivery)
            self._done(delivery)
            return
        backoff = min(self._max_backoff, self._min_backoff * 2 ** (delivery.attempt - 1))
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + backoff, next(self._timer_seq), delivery))
            self._wake.notify_all()

    def _dead_letter(self, delivery: _Delivery) -> None:
        message = delivery.message
        attributes = {
            **message.attributes,
            ATTR_SOURCE_SUBSCRIPTION: delivery.target.subscription.rsplit("/", 1)[-1],
            ATTR_SOURCE_PROJECT: self.project,
            ATTR_SOURCE_DELIVERY_COUNT: str(delivery.attempt),
            ATTR_SOURCE_TOPIC_PUBLISH_TIME: message.publish_time,
        }
        topic = delivery.target.dead_letter_topic
        assert topic is not None
        with self._lock:
            self.stats.dead_lettered += 1
        self.publish(topic, [pubsub_types.PubsubMessage(data=message.data, attributes=attributes)])

    def _done(self, delivery: _Delivery) -> None:
        """The delivery is settled: start the next one in its ordering lane."""
        key = delivery.key
        if key is None:
            return
        with self._lock:
            lane = self._lanes[key]
            lane.popleft()
            if not lane:
                del self._lanes[key]
                return
            following = lane[0]
            if self._stopping:
                return
        self._submit(following)

    def _submit(self, delivery: _Delivery) -> None:
        try:
            self._pool.submit(self._push, delivery)
        except RuntimeError:  # the pool was shut down: the stack is stopping, like a push in flight
            log.info(
                "direct push stopped before a delivery", extra={"subscription": delivery.target.subscription}
            )

    def _run_timers(self) -> None:
        with self._lock:
            while not self._stopping:
                now = time.monotonic()
                if self._timers and self._timers[0][0] <= now:
                    _, _, delivery = heapq.heappop(self._timers)
                    self._submit(delivery)
                    continue
                self._wake.wait(timeout=(self._timers[0][0] - now) if self._timers else None)

    # -- the gRPC Publisher service ---------------------------------------------------------

    def _topic_id(self, path: str, context: grpc.ServicerContext) -> str:
        prefix = f"projects/{self.project}/topics/"
        if not path.startswith(prefix) or len(path) == len(prefix):
            context.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {path}")
        return path[len(prefix) :]

    def _rpc_publish(self, request: Any, context: grpc.ServicerContext) -> Any:
        topic = self._topic_id(request.topic, context)
        if topic not in self._targets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {request.topic}")
        if not request.messages:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no messages")
        return pubsub_types.PublishResponse(message_ids=self.publish(topic, request.messages))

    def _rpc_get_topic(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self._topic_id(request.topic, context) not in self._targets:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {request.topic}")
        return pubsub_types.Topic(name=request.topic)

    def _rpc_create_topic(self, request: Any, context: grpc.ServicerContext) -> Any:
        topic = self._topic_id(request.name, context)
        with self._lock:
            if topic in self._targets:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Topic already exists: {request.name}")
            self._targets[topic] = []  # a topic nobody subscribes to: published messages are dropped
        return pubsub_types.Topic(name=request.name)

    def _publisher_service(self) -> grpc.GenericRpcHandler:
        def unary(method: Callable[[Any, grpc.ServicerContext], Any], request: Any, response: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                method, request_deserializer=request.deserialize, response_serializer=response.serialize
            )

        types = pubsub_types
        return grpc.method_handlers_generic_handler(
            "google.pubsub.v1.Publisher",
            {
                "Publish": unary(self._rpc_publish, types.PublishRequest, types.PublishResponse),
                "GetTopic": unary(self._rpc_get_topic, types.GetTopicRequest, types.Topic),
                "CreateTopic": unary(self._rpc_create_topic, types.Topic, types.Topic),
            },
        )


def start_for_routing(project: str, push_endpoint: Callable[[Consumer], str], **options: Any) -> DirectPush:
    """The stack's direct-push server for the routing table's topology, started."""
    return DirectPush(project, routing_targets(project, push_endpoint), **options).start()
