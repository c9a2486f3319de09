"""Publishing to Pub/Sub: a small ``Publisher`` protocol, the google-cloud-pubsub implementation
(the in-memory double for tests is in ``tests/fakes``).

The real publisher batches messages (the client library groups them per topic and ordering
key) and has message ordering enabled, so messages that share an ordering key (the user id for
conversational agents, decisions A3) are delivered in publish order. Ordering keys need a
regional endpoint in production (``PUBSUB_API_ENDPOINT``); locally ``PUBSUB_EMULATOR_HOST`` is
picked up by the client library itself.

``publish_all`` waits for every future and reports one outcome per message, in input order,
so the caller can mark exactly the published rows as done.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.config import get_settings
from shared.domain.constants import PUBSUB_PUBLISH_TIMEOUT
from shared.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class OutboundMessage:
    topic: str  # topic id, e.g. "agent-bouncer" (not the full path)
    data: bytes
    attributes: dict[str, str]
    ordering_key: str = ""


@dataclass(frozen=True)
class PublishOutcome:
    message: OutboundMessage
    message_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Publisher(Protocol):
    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]: ...


class GooglePublisher:
    """google-cloud-pubsub with batching and message ordering."""

    def __init__(
        self,
        project: str,
        *,
        api_endpoint: str | None = None,
        max_messages: int = 1000,
        # How long the client holds a batch open for more messages. ``publish_all`` hands over a
        # whole dispatch batch in one loop and then waits for every future, so a longer hold only
        # delays it (the library's default, 10 ms, was added to every reply's path); each
        # ordering key (one per user) is a batch of its own anyway.
        max_latency_seconds: float = 0.001,
        timeout_seconds: float = PUBSUB_PUBLISH_TIMEOUT.total_seconds(),
    ) -> None:
        from google.cloud import pubsub_v1

        client_options: dict[str, Any] = {"api_endpoint": api_endpoint} if api_endpoint else {}
        self.project = project
        self.timeout_seconds = timeout_seconds
        self._client = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(
                max_messages=max_messages, max_latency=max_latency_seconds
            ),
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
            client_options=client_options or None,
        )

    def topic_path(self, topic: str) -> str:
        return str(self._client.topic_path(self.project, topic))

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]:
        futures: list[Any] = []
        for message in messages:
            try:
                futures.append(
                    self._client.publish(
                        self.topic_path(message.topic),
                        message.data,
                        ordering_key=message.ordering_key,
                        **message.attributes,
                    )
                )
            except Exception as exc:  # e.g. a paused ordering key: report it, keep going
                futures.append(exc)
        outcomes: list[PublishOutcome] = []
        for message, future in zip(messages, futures, strict=True):
            if isinstance(future, Exception):
                outcomes.append(self._failed(message, future))
                continue
            try:
                outcomes.append(PublishOutcome(message, message_id=str(future.result(self.timeout_seconds))))
            except Exception as exc:
                outcomes.append(self._failed(message, exc))
        return outcomes

    def _failed(self, message: OutboundMessage, exc: Exception) -> PublishOutcome:
        # After a failure the client pauses the ordering key; resume it so the retry can publish.
        if message.ordering_key:
            try:
                self._client.resume_publish(self.topic_path(message.topic), message.ordering_key)
            except Exception:  # pragma: no cover - resume only fails for unknown keys
                log.debug("resume_publish failed", exc_info=True)
        return PublishOutcome(message, error=f"{type(exc).__name__}: {exc}"[:1000])

    def close(self) -> None:
        self._client.stop()


_publisher: GooglePublisher | None = None
_publisher_lock = threading.Lock()


def get_publisher() -> GooglePublisher:
    """The process-wide publisher, created on first use (never at import)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            settings = get_settings()
            _publisher = GooglePublisher(
                settings.require("google_cloud_project"), api_endpoint=settings.pubsub_api_endpoint
            )
        return _publisher


def reset_publisher() -> None:
    """Forget the process-wide publisher (tests and the local stack change the environment)."""
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
            _publisher = None
