"""event_dead_letters (decisions B6): recording, listing and replaying what could not be delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_object, json_param, uuid_of, uuid_or_none, without_nul

DEAD_LETTER_SOURCES = ("dispatcher", "pubsub", "consumer")


@dataclass(frozen=True)
class NewDeadLetter:
    event_id: UUID | None  # the event or task it is about; None for an undecodable delivery
    event_type: str
    payload: Any
    error_message: str
    retry_count: int
    original_created_at: datetime | str | None  # None: now
    source: str  # one of DEAD_LETTER_SOURCES
    topic: str | None = None
    consumer: str | None = None
    source_message_id: str | None = None  # a second record with the same id is a no-op


@dataclass(frozen=True)
class DeadLetterForReplay:
    id: UUID
    event_id: UUID | None
    event_type: str
    payload: Any
    replayed_at: datetime | None
    replay_count: int
    source: str
    aggregate_type: str | None  # of the original event, when it still exists
    aggregate_id: UUID | None
    event_metadata: dict[str, Any]
    event_created_by: str | None


class DeadLetterRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def record(self, letter: NewDeadLetter) -> UUID | None:
        """Record one dead letter; None when its source message id was recorded before.

        A dead letter keeps what arrived, hostile input included: NUL is removed from its text
        and its payload's strings (PostgreSQL cannot store it), so the letter is still written."""
        if letter.source not in DEAD_LETTER_SOURCES:
            raise ValueError(f"unknown dead-letter source {letter.source!r}")
        row = self._sql.one(
            "dead_letters_insert",
            event_id=letter.event_id,
            event_type=without_nul(letter.event_type),
            payload=json_param(without_nul(letter.payload)),
            error_message=without_nul(letter.error_message)[:4000],
            retry_count=letter.retry_count,
            original_created_at=letter.original_created_at,
            source=letter.source,
            topic=without_nul(letter.topic),
            consumer=without_nul(letter.consumer),
            source_message_id=without_nul(letter.source_message_id),
        )
        return None if row is None else uuid_of(row["id"])

    def lock(self, dead_letter_id: UUID) -> DeadLetterForReplay | None:
        row = self._sql.one("dead_letters_lock", id=dead_letter_id)
        if row is None:
            return None
        return DeadLetterForReplay(
            id=uuid_of(row["id"]),
            event_id=uuid_or_none(row["event_id"]),
            event_type=row["event_type"],
            payload=row["payload"],
            replayed_at=row["replayed_at"],
            replay_count=row["replay_count"],
            source=row["source"],
            aggregate_type=row["aggregate_type"],
            aggregate_id=uuid_or_none(row["aggregate_id"]),
            event_metadata=json_object(row["event_metadata"]),
            event_created_by=row["event_created_by"],
        )

    def lock_unreplayed(self, *, limit: int) -> list[UUID]:
        """Never-replayed dead letters, oldest first, locked (SKIP LOCKED)."""
        return [uuid_of(r["id"]) for r in self._sql.all("dead_letters_lock_unreplayed", limit=limit)]

    def mark_replayed(self, dead_letter_id: UUID) -> None:
        self._sql.run("dead_letters_mark_replayed", id=dead_letter_id)
