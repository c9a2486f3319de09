"""The unit of work: one database transaction that commits state and outbox rows together.

It rolls back unless ``commit()`` is called. Events emitted with ``emit()`` are written to
the ``events`` table inside the same transaction at commit, so follow-up work is never lost
when a function dies after committing (decisions A4).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from shared.adapters.postgres import Connection, Sql, get_pool
from shared.domain.events import Event


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def emit(self, event: Event) -> None: ...

    def commit(self) -> list[UUID]: ...


def write_event(sql: Sql, event: Event) -> UUID:
    """Append one event to the outbox (``events``) inside whatever transaction ``sql`` holds."""
    row = sql.one(
        "insert_event",
        event_type=event.event_type,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        payload=json.dumps(event.payload, default=str),
        metadata=json.dumps(event.metadata, default=str),
        created_by=event.created_by,
    )
    assert row is not None
    return UUID(str(row["id"]))


class PostgresUnitOfWork:
    """A pooled connection in one transaction; ``sql`` runs named queries inside it."""

    sql: Sql

    def __init__(self, conn: Connection | None = None) -> None:
        self._given = conn
        self._pending: list[Event] = []
        self._committed = False

    def __enter__(self) -> Self:
        if self._given is not None:
            self._conn = self._given
            self._ctx = None
        else:
            self._ctx = get_pool().connection()
            self._conn = self._ctx.__enter__()
        self._conn.autocommit = False
        self.sql = Sql(self._conn)
        self._pending = []
        self._committed = False
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                self._conn.rollback()
        finally:
            if self._ctx is not None:
                self._ctx.__exit__(exc_type, exc, tb)

    def emit(self, event: Event) -> None:
        self._pending.append(event)

    def commit(self) -> list[UUID]:
        ids = [self._write_event(event) for event in self._pending]
        self._conn.commit()
        self._pending = []
        self._committed = True
        return ids

    def rollback(self) -> None:
        self._pending = []
        self._conn.rollback()

    def _write_event(self, event: Event) -> UUID:
        return write_event(self.sql, event)
