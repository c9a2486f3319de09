"""An in-memory ``Publisher`` (``shared.adapters.pubsub``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.adapters.pubsub import OutboundMessage, PublishOutcome


@dataclass
class FakePublisher:
    """Records what was published; topics in ``failing_topics`` fail."""

    failing_topics: set[str] = field(default_factory=set)
    published: list[tuple[str, OutboundMessage]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishOutcome]:
        outcomes = []
        with self._lock:
            for message in messages:
                if message.topic in self.failing_topics:
                    outcomes.append(PublishOutcome(message, error=f"NotFound: topic {message.topic}"))
                    continue
                message_id = str(len(self.published) + 1)
                self.published.append((message_id, message))
                outcomes.append(PublishOutcome(message, message_id=message_id))
        return outcomes
