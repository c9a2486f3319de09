"""Postgres through psycopg 3, with SQL kept as named queries in ``shared/adapters/sql/*.sql``.

Query files look like::

    -- name: find_user_by_phone
    -- Find a user by E.164 phone number.
    SELECT * FROM users WHERE phone_number = %(phone)s;

Names are unique across all files. Parameters are psycopg named placeholders.
Driver errors are translated at this boundary: a unique violation becomes ``AlreadyExists``.
"""

from __future__ import annotations

import re
import select
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from shared.config import get_settings
from shared.domain.constants import SLOW_DB_QUERY_ALERT
from shared.logs import get_logger

log = get_logger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)

Row = dict[str, Any]
Connection = psycopg.Connection[Row]


class AlreadyExists(Exception):
    """A unique constraint said this was done before; callers usually treat it as success."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"already exists ({constraint})")
        self.constraint = constraint


class QueryNotFound(KeyError):
    pass


def parse_queries(text: str, source: str = "<string>") -> dict[str, str]:
    """Split a query file into ``{name: sql}``."""
    queries: dict[str, str] = {}
    matches = list(_NAME_LINE.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body_lines = [
            line for line in text[match.end() : end].splitlines() if not line.lstrip().startswith("--")
        ]
        body = "\n".join(body_lines).strip()
        if not body:
            raise ValueError(f"{source}: query {match.group(1)!r} is empty")
        queries[match.group(1)] = body
    return queries


def load_query_dir(directory: Path) -> dict[str, str]:
    """Every named query in ``directory/*.sql``; names must be unique across its files."""
    queries: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, sql in parse_queries(path.read_text(encoding="utf-8"), str(path)).items():
            if name in queries:
                raise ValueError(f"duplicate query name {name!r} in {path.name}")
            queries[name] = sql
    return queries


@lru_cache(maxsize=1)
def load_queries() -> Mapping[str, str]:
    """The project's named queries (``shared/adapters/sql``)."""
    return load_query_dir(SQL_DIR)


def query(name: str) -> str:
    try:
        return load_queries()[name]
    except KeyError:
        raise QueryNotFound(name) from None


class Sql:
    """Runs named queries on one connection (inside whatever transaction it holds).

    ``queries`` replaces the project's query set (the benchmarks' seed queries live in ``bench/sql``).
    """

    def __init__(self, conn: Connection, queries: Mapping[str, str] | None = None) -> None:
        self.conn = conn
        self._queries = queries

    def text(self, name: str) -> str:
        """The SQL of a named query (for a statement run outside ``one``/``all``, e.g. COPY)."""
        if self._queries is None:
            return query(name)
        try:
            return self._queries[name]
        except KeyError:
            raise QueryNotFound(name) from None

    def _execute(self, name: str, params: Mapping[str, Any]) -> psycopg.Cursor[Row]:
        started = time.perf_counter()
        try:
            return self.conn.execute(cast(Any, self.text(name)), params)
        except pg_errors.UniqueViolation as exc:
            raise AlreadyExists(exc.diag.constraint_name) from exc
        finally:
            elapsed = time.perf_counter() - started
            if elapsed > SLOW_DB_QUERY_ALERT.total_seconds():  # the slow-query alert reads this line
                log.warning(
                    "slow named query", extra={"db_query": name, "db_query_ms": round(elapsed * 1000)}
                )

    def one(self, name: str, **params: Any) -> Row | None:
        return self._execute(name, params).fetchone()

    def all(self, name: str, **params: Any) -> list[Row]:
        return self._execute(name, params).fetchall()

    def scalar(self, name: str, **params: Any) -> Any:
        row = self.one(name, **params)
        return None if row is None else next(iter(row.values()))

    def run(self, name: str, **params: Any) -> int:
        """Execute; return the number of rows affected."""
        return self._execute(name, params).rowcount


# Two pools per process. "main" serves units of work; "side" serves short independent writes
# made while a unit of work is open (the LLM cost ledger: one INSERT each, so its connections
# are in autocommit and each write is its own transaction), so a request holding a main
# connection never waits for a second one from the same pool: with N threads each holding
# one, that wait is a deadlock.
MAIN_POOL = "main"
SIDE_POOL = "side"
# Main-pool connections one request may hold at once, so a process's pool is this many per
# request thread: the consumer's unit of work (its delivery mark), the turn's own transaction,
# and, on a process's first turn of an agent version, the short transaction that registers that
# version (shared/agents/instances.py). The local stack and Terraform size pools with it.
TURN_CONNECTIONS = 3
_pools: dict[str, ConnectionPool[Connection]] = {}
_pool_lock = threading.Lock()

# A connection back in the pool for less than this is handed out again without a round trip,
# unless its socket says the server has spoken (see ``check_at_checkout``).
POOL_RECHECK_AFTER_SECONDS = 5.0
_returned_at: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


def _stamp_return(conn: Connection) -> None:
    """The pool's ``reset`` hook: remember when the connection came back."""
    _returned_at[conn] = time.monotonic()


def _socket_readable(conn: Connection) -> bool:
    """Anything waiting on an idle connection's socket: a terminated backend's FATAL, EOF."""
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True  # no usable socket: let the full check say so


def check_at_checkout(conn: Connection) -> None:
    """The pool's checkout check, raising for a dead connection (the pool then replaces it).

    ``ConnectionPool.check_connection`` sends an empty query: a round trip on every checkout,
    about one in six of a reply's round trips. A pooled connection takes no LISTEN and is idle
    between checkouts, so nothing arrives on its socket unless the server ended the session
    (restart, failover, ``pg_terminate_backend``: a FATAL message, then EOF). A connection back
    less than ``POOL_RECHECK_AFTER_SECONDS`` ago with a silent socket skips the round trip; any
    other gets the full check (a path that went silent without a word is caught there).
    """
    returned = _returned_at.get(conn)
    if (
        returned is not None
        and time.monotonic() - returned < POOL_RECHECK_AFTER_SECONDS
        and not conn.closed
        and not _socket_readable(conn)
    ):
        return
    ConnectionPool.check_connection(conn)


def connect(dsn: str | None = None, autocommit: bool = False) -> Connection:
    """One direct connection (tools, tests, LISTEN)."""
    settings = get_settings()
    return psycopg.connect(
        dsn or settings.require("database_url"),
        row_factory=dict_row,
        autocommit=autocommit,
        prepare_threshold=settings.database_prepare_threshold,
    )


def get_pool(name: str = MAIN_POOL) -> ConnectionPool[Connection]:
    """A process-wide pool, opened on first use (never at import)."""
    with _pool_lock:
        pool = _pools.get(name)
        if pool is None:
            settings = get_settings()
            pool = ConnectionPool(
                settings.require("database_url"),
                min_size=1,
                max_size=settings.database_pool_max if name == MAIN_POOL else settings.database_side_pool_max,
                kwargs={
                    "row_factory": dict_row,
                    "prepare_threshold": settings.database_prepare_threshold,
                    # the side pool's writes are single statements: no BEGIN and COMMIT round trips
                    "autocommit": name == SIDE_POOL,
                },
                open=False,
                name=f"yachtparty-{name}",
                # A connection the server dropped (restart, failover, pg_terminate_backend) is
                # found at checkout and replaced, not handed to a request that then fails and
                # costs a Pub/Sub redelivery per dead connection (tests/faults).
                check=check_at_checkout,
                reset=_stamp_return,
            )
            # Opened with its first connection made, before any checkout. A checkout that finds
            # the pool still connecting waits, and a waiting client makes psycopg_pool open one
            # more: every instance's first request opened two connections where it needed one,
            # the second after the request had its answer. A pool that cannot connect within
            # the checkout timeout is closed by psycopg_pool and not kept, so the next request
            # tries afresh, as a checkout from a pool that could not connect would have.
            pool.open(wait=True, timeout=pool.timeout)
            _pools[name] = pool
        return pool


def close_pool() -> None:
    with _pool_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


@contextmanager
def pooled_connection(name: str = MAIN_POOL) -> Iterator[Connection]:
    with get_pool(name).connection() as conn:
        yield conn
