"""The pool's checkout check (``postgres.check_at_checkout``) on a real server.

A connection back in the pool moments ago is handed out without the empty-query round trip;
one whose backend was terminated is still found at checkout and replaced; one idle longer than
``POOL_RECHECK_AFTER_SECONDS`` gets the full check.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from shared import config
from shared.adapters import postgres
from shared.adapters.llm import CallRecord, PostgresCallLog, Usage
from tools.localstack.pgcluster import free_port

pytestmark = pytest.mark.integration

BACKEND_EXIT_WAIT_SECONDS = 10.0


@pytest.fixture
def full_checks(database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The backend pid of every connection that got psycopg_pool's round-trip check."""
    # One connection in the pool, so "the connection handed out next" is the one just returned.
    monkeypatch.setenv("DATABASE_POOL_MAX", "1")
    config.reset_settings_cache()
    postgres.close_pool()
    seen: list[int] = []
    original = ConnectionPool.check_connection

    def counting(conn: Any) -> None:
        seen.append(conn.info.backend_pid)
        original(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counting))
    return seen


def _backend_pid() -> int:
    with postgres.pooled_connection() as conn:
        pid = conn.info.backend_pid
        conn.execute("SELECT 1")
        conn.commit()
        return pid


def _wait_until_gone(db: postgres.Connection, pid: int) -> None:
    deadline = time.monotonic() + BACKEND_EXIT_WAIT_SECONDS
    while db.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
        assert time.monotonic() < deadline, f"backend {pid} still running"
        time.sleep(0.05)


def test_a_connection_returned_moments_ago_is_handed_out_without_a_round_trip(full_checks: list[int]) -> None:
    first = _backend_pid()
    checks_after_first = len(full_checks)  # a new connection has no return stamp: full check
    second = _backend_pid()
    assert second == first  # the pool's one connection, reused
    assert len(full_checks) == checks_after_first  # no empty query for the reuse


def test_a_terminated_backend_is_found_at_checkout_and_replaced(
    full_checks: list[int], db: postgres.Connection
) -> None:
    dead = _backend_pid()
    db.execute("SELECT pg_terminate_backend(%s)", (dead,))
    _wait_until_gone(db, dead)  # the signal is asynchronous: wait until the backend has exited
    replacement = _backend_pid()  # no exception reaches the caller
    assert replacement != dead
    assert dead in full_checks  # the socket had spoken: the full check ran, failed, pool replaced


def test_a_connection_idle_longer_than_the_window_gets_the_full_check(
    full_checks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid()
    monkeypatch.setattr(postgres, "POOL_RECHECK_AFTER_SECONDS", 0.0)
    before = len(full_checks)
    assert _backend_pid() == first
    assert full_checks[before:] == [first]


def test_the_llm_cost_ledger_write_on_the_side_pool_is_committed_by_itself(
    database_url: str, db: postgres.Connection
) -> None:
    """The side pool autocommits: the ledger's one INSERT is its own transaction (no BEGIN and
    COMMIT round trips), and is visible to everyone at once, even while the caller's turn holds a
    main-pool transaction open."""
    record = CallRecord(
        agent="bouncer",
        call_kind="reply",
        model="claude-test",
        user_id=None,
        context_id=None,
        context_type=None,
        prompt_version="v-test",
        usage=Usage(input_tokens=10, output_tokens=5),
        cost_usd=Decimal("0.000123"),
        latency_ms=7,
        input_data={"k": "v"},
        output_data=None,
        error=None,
    )
    with postgres.pooled_connection() as turn, turn.transaction():
        turn.execute("SELECT 1")
        PostgresCallLog().record(record)
        rows = db.execute(
            "SELECT agent_type, cost_usd FROM agent_actions_log WHERE model = 'claude-test'"
        ).fetchall()
    assert rows == [{"agent_type": "bouncer", "cost_usd": Decimal("0.000123")}]
    with postgres.pooled_connection(postgres.SIDE_POOL) as side:
        assert side.autocommit


# How long the opening test gives a pool's background workers to open a second connection; the
# old open-then-check-out opened it within milliseconds.
SECOND_CONNECT_WAIT_SECONDS = 0.5


@pytest.mark.parametrize("name", [postgres.MAIN_POOL, postgres.SIDE_POOL])
def test_a_pools_first_checkout_opens_one_connection(database_url: str, name: str) -> None:
    """The pool is open with its first connection before the first checkout, so that checkout
    does not wait and make psycopg_pool grow the pool: one connection, not two."""
    postgres.close_pool()
    with postgres.pooled_connection(name) as conn:
        conn.execute("SELECT 1")
    time.sleep(SECOND_CONNECT_WAIT_SECONDS)
    stats = postgres.get_pool(name).get_stats()
    assert stats["connections_num"] == 1, stats
    assert stats["pool_size"] == 1, stats


def test_a_pool_that_cannot_connect_is_not_kept(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server answers: opening fails with psycopg_pool's timeout, the pool is closed and not
    kept, and once the server is back the next request opens a working one."""
    from psycopg_pool import PoolTimeout

    postgres.close_pool()

    class QuickPool(ConnectionPool[Any]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "timeout": 0.5})

    monkeypatch.setattr(postgres, "ConnectionPool", QuickPool)
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1"
    monkeypatch.setenv("DATABASE_URL", dead)
    config.reset_settings_cache()
    with pytest.raises(PoolTimeout):
        postgres.get_pool()
    assert postgres._pools == {}

    monkeypatch.setenv("DATABASE_URL", database_url)
    config.reset_settings_cache()
    with postgres.pooled_connection() as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
