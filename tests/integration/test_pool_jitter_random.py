"""A pool's background connects leave the global ``random`` alone while Hypothesis draws.

psycopg_pool's workers draw each new connection's lifetime jitter from ``random``, and they
connect in the background: to replace a connection given back closed or expired, to grow the
pool, and (until 4 December 2026) to open a fresh pool's second connection after its first
checkout. When such a connect fell inside Hypothesis's next draw, Hypothesis raised its "Do not
use the `random` module inside strategies" warning (seen in CI's fuzz tests).
``tests/conftest.py`` gives the pools their own generator. This test gives back a closed
connection, so the pool replaces it in the background, and draws slowly meanwhile; it fails
without that fixture.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters import postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("error::hypothesis.errors.HypothesisDeprecationWarning"),
]

DRAW_SECONDS = 0.2  # long enough for the pool's replacement connect to land inside the next draw


def _slow(value: int) -> int:
    time.sleep(DRAW_SECONDS)
    return value


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=st.integers(min_value=0, max_value=2**31 - 1).map(_slow))
def test_a_pools_background_connect_does_not_move_the_global_random(database_url: str, value: int) -> None:
    with postgres.get_pool().connection() as conn:
        assert conn.execute("SELECT %s::bigint AS v", (value,)).fetchone() == {"v": value}
        conn.close()  # given back closed: the pool's worker connects a replacement
