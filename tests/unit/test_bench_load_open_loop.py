"""``bench.load.open_loop``: the baseline's driver runs every call and reports every failure (a
baseline of refused webhooks used to pass for a fast one)."""

from __future__ import annotations

import threading

from bench.load import open_loop


def test_every_call_runs_and_none_failed() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        with lock:
            seen.append(i)

    assert open_loop(call, 0, 50) == []
    assert sorted(seen) == list(range(50))


def test_failures_are_reported_with_their_errors() -> None:
    def call(i: int) -> None:
        if i % 10 == 3:
            raise RuntimeError(f"403 for request {i}")

    failed = open_loop(call, 0, 30)
    assert sorted(failed) == ["403 for request 13", "403 for request 23", "403 for request 3"]
