"""The events outbox (decisions A3, A4, B6): appended in units of work, drained by the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_object, json_param, uuid_of, uuid_or_none
from shared.domain.events import Event


@dataclass(frozen=True)
class ClaimedEvent:
    """An unprocessed, due event, locked, with its user's routing facts."""

    id: UUID
    event_type: str
    aggregate_type: str | None
    aggregate_id: UUID | None
    payload: Any
    metadata: dict[str, Any]
    attempts: int
    created_at: datetime
    created_by: str | None
    user_id: UUID | None
    user_verified: bool | None
    user_poc_agent_type: str | None


@dataclass(frozen=True)
class Published:
    event_id: UUID
    topic: str
    message_id: str


@dataclass(frozen=True)
class PublishRetry:
    event_id: UUID
    attempts: int
    error: str
    next_attempt_at: datetime


@dataclass(frozen=True)
class GivenUp:
    """An event the dispatcher gives up on (it is dead-lettered)."""

    event_id: UUID
    attempts: int
    error: str


@dataclass(frozen=True)
class DeadEvent:
    """An event marked dead-lettered: what its dead letter records."""

    id: UUID
    event_type: str
    payload: Any
    created_at: datetime
    attempts: int
    error: str


@dataclass(frozen=True)
class MemberEvent:
    """One event about a member (aggregate ``user``), as the Account Manager reads its news."""

    id: UUID
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


class EventRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(self, event: Event) -> UUID:
        """Append one event to the outbox inside this transaction."""
        row = self._sql.one(
            "events_insert",
            event_type=event.event_type,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            payload=json_param(event.payload),
            metadata=json_param(event.metadata),
            created_by=event.created_by,
        )
        assert row is not None
        return uuid_of(row["id"])

    def claim_due(self, *, limit: int) -> list[ClaimedEvent]:
        rows = self._sql.all("events_claim_due", limit=limit)
        return [
            ClaimedEvent(
                id=uuid_of(r["id"]),
                event_type=r["event_type"],
                aggregate_type=r["aggregate_type"],
                aggregate_id=uuid_or_none(r["aggregate_id"]),
                payload=r["payload"],
                metadata=json_object(r["metadata"]),
                attempts=r["attempts"],
                created_at=r["created_at"],
                created_by=r["created_by"],
                user_id=uuid_or_none(r["user_id"]),
                user_verified=r["user_verified"],
                user_poc_agent_type=r["user_poc_agent_type"],
            )
            for r in rows
        ]

    def mark_published(self, published: Sequence[Published]) -> None:
        self._sql.run(
            "events_mark_published",
            ids=[p.event_id for p in published],
            topics=[p.topic for p in published],
            message_ids=[p.message_id for p in published],
        )

    def mark_record_only(self, event_ids: Sequence[UUID], *, reason: str) -> None:
        self._sql.run("events_mark_record_only", ids=list(event_ids), reason=reason)

    def reschedule(self, retries: Sequence[PublishRetry]) -> None:
        self._sql.run(
            "events_reschedule",
            ids=[r.event_id for r in retries],
            attempts=[r.attempts for r in retries],
            errors=[r.error for r in retries],
            next_attempt_ats=[r.next_attempt_at for r in retries],
        )

    def mark_dead_lettered(self, given_up: Sequence[GivenUp]) -> list[DeadEvent]:
        """Mark events processed as dead-lettered; returns those still unprocessed until now."""
        rows = self._sql.all(
            "events_mark_dead_lettered",
            ids=[g.event_id for g in given_up],
            attempts=[g.attempts for g in given_up],
            errors=[g.error for g in given_up],
        )
        return [
            DeadEvent(
                id=uuid_of(r["id"]),
                event_type=r["event_type"],
                payload=r["payload"],
                created_at=r["created_at"],
                attempts=r["attempts"],
                error=r["error"],
            )
            for r in rows
        ]

    def for_member_since(
        self, user_id: UUID, *, since: datetime | None, excluding_creator: str, limit: int
    ) -> list[MemberEvent]:
        """The member's events after ``since`` (None: all), oldest first, leaving out the events
        ``excluding_creator`` wrote itself."""
        rows = self._sql.all(
            "events_for_member_since", user_id=user_id, since=since, own=excluding_creator, limit=limit
        )
        return [
            MemberEvent(
                id=uuid_of(r["id"]),
                event_type=r["event_type"],
                payload=json_object(r["payload"]),
                created_at=r["created_at"],
            )
            for r in rows
        ]
