"""Race helpers for the lock tests: another worker holding a row, and a claim that must not wait on it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from shared.adapters.postgres import connect
from shared.adapters.unit_of_work import PostgresUnitOfWork
from tests.fixture_support import fixture_sql


@contextmanager
def row_held(database_url: str, sql: str, row_id: uuid.UUID) -> Iterator[None]:
    """Another worker's transaction holds ``row_id`` (``SELECT ... FOR UPDATE``) until the block ends."""
    with connect(database_url) as conn:
        conn.execute(sql, (row_id,))
        try:
            yield
        finally:
            conn.rollback()


def without_blocking(call: Callable[[], Any], wait: float) -> Any:
    """Run ``call`` in a thread; fail when it has not returned within ``wait`` while the row is held."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(wait)
    assert not thread.is_alive(), "the claim blocked behind a row another worker holds (SKIP LOCKED lost?)"
    if "error" in result:
        raise result["error"]
    return result["value"]


def until_another_session_waits(database_url: str, wait: float) -> None:
    """Return once some other session of this database waits on a lock (a row or advisory lock another
    transaction holds); fail after ``wait`` seconds. A race test uses it to know the second worker has
    reached the point where the first one's lock matters, however loaded the machine is."""
    deadline = time.monotonic() + wait
    with connect(database_url) as conn:
        while True:
            waiting = fixture_sql(conn).scalar("sessions_waiting_on_a_lock")
            conn.rollback()
            if waiting:
                return
            assert time.monotonic() < deadline, f"no other session waited on a lock within {wait} s"
            time.sleep(0.02)


@contextmanager
def uow_that_will_not_wait(database_url: str, lock_timeout: str = "3s") -> Iterator[PostgresUnitOfWork]:
    """A unit of work whose session gives up on any lock it would wait for (``lock_timeout``): a
    statement that should skip a held row raises ``LockNotAvailable`` instead of waiting when it
    does not. No wall clock: the correct statement never waits at all, so the machine's load
    cannot fail it, and the timeout only bounds how long a broken one takes to fail."""
    with connect(database_url) as conn:
        conn.execute(f"SET lock_timeout = '{lock_timeout}'")
        conn.commit()
        with PostgresUnitOfWork(conn) as uow:
            yield uow
