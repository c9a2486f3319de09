"""A pool's background connects leave the global ``random`` alone while Hypothesis draws.

psycopg_pool's workers draw a connection's lifetime jitter from ``random``, and a pool's first
checkout opens a second connection after the checkout returned. When that connect fell inside
Hypothesis's next draw, Hypothesis raised its "Do not use the `random` module inside
strategies" warning (seen in CI's fuzz tests). ``tests/conftest.py`` gives the pools their own
generator; this test draws slowly right after such a checkout, and fails without that fixture.
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

DRAW_SECONDS = 0.2  # long enough for the pool's second connect to land inside the next draw


def _slow(value: int) -> int:
    time.sleep(DRAW_SECONDS)
    return value


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=st.integers().map(_slow))
def test_a_fresh_pools_background_connect_does_not_move_the_global_random(
    database_url: str, value: int
) -> None:
    postgres.close_pool()
    with postgres.get_pool().connection() as conn:
        assert conn.execute("SELECT %s::bigint AS v", (value,)).fetchone() == {"v": value}
