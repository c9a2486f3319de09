"""Is a queued message still worth sending? (platform §1.7, agents.md §1 "freshness check")

Rows with ``requires_fresh_context`` are checked just before sending: when the user has
sent nothing since the row was queued, it is relevant; otherwise a classifier decides from
the user's newer messages. The real classifier is an LLM call that arrives with the agent
runtime; until then ``AssumeRelevantClassifier`` keeps every message and says so in the logs.
A classifier failure counts as relevant (fail open) and is logged.

A message queued with ``message_data.superseded_by_reply = true`` (a follow-up that only makes
sense while the user is silent) is stale as soon as the user has written since it was queued;
no classifier is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared.domain.constants import FRESHNESS_LOOKBACK_MESSAGES
from shared.logs import get_logger

log = get_logger(__name__)

SUPERSEDED_BY_REPLY = "superseded_by_reply"  # message_data flag: any newer user text makes it stale


@dataclass(frozen=True)
class NewerMessage:
    content: str
    created_at: datetime


@dataclass(frozen=True)
class QueuedForCheck:
    """What the classifier sees of the queued message."""

    queue_ids: tuple[UUID, ...]
    user_id: UUID
    created_at: datetime
    message_data: dict[str, Any]
    final_message: str | None


@dataclass(frozen=True)
class Freshness:
    relevant: bool
    reason: str  # short, stored in message_queue.superseded_reason when not relevant


class FreshnessClassifier(Protocol):
    """Decides RELEVANT / CONTEXTUAL (relevant) versus STALE (not) from the newer messages."""

    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness: ...


class AssumeRelevantClassifier:
    """Placeholder until the LLM classifier lands: keeps every message, and logs that it did."""

    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness:
        log.info(
            "freshness: user wrote since this was queued; no classifier configured, assuming relevant",
            extra={
                "user_id": str(queued.user_id),
                "queue_ids": [str(i) for i in queued.queue_ids],
                "newer_messages": len(newer),
            },
        )
        return Freshness(relevant=True, reason="assumed_relevant_no_classifier")


NewerMessagesLoader = Callable[[UUID, datetime, int], Sequence[NewerMessage]]


def check_freshness(
    queued: QueuedForCheck,
    load_newer: NewerMessagesLoader,
    classifier: FreshnessClassifier,
) -> Freshness:
    """Relevant when the user wrote nothing since it was queued; else the classifier decides."""
    newer = list(load_newer(queued.user_id, queued.created_at, FRESHNESS_LOOKBACK_MESSAGES))
    if not newer:
        return Freshness(relevant=True, reason="no_new_context")
    if queued.message_data.get(SUPERSEDED_BY_REPLY) is True:
        # e.g. a Bouncer follow-up: once the user has written, chasing them is wrong whatever they said
        return Freshness(relevant=False, reason="user_replied")
    try:
        return classifier.classify(queued, newer)
    except Exception as exc:  # fail open: a broken classifier must not swallow messages
        log.warning(
            "freshness classifier failed; treating the message as relevant",
            extra={"user_id": str(queued.user_id), "error": repr(exc)},
        )
        return Freshness(relevant=True, reason="classifier_error")
