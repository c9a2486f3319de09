"""A fixed single-threaded workload, timed: how fast this machine runs Python right now.

``bench.pipeline`` times it in its own process, and in one process per core started together
(``python -m bench.speed_probe START_AT ROUNDS ITERATIONS``: each child spins until the shared
wall-clock moment ``START_AT``, times the workload and prints its best in seconds). Kept free of
the project's heavy imports so a child is running well before that moment.
"""

from __future__ import annotations

import json
import sys
import time

_PAYLOAD = {"numbers": list(range(200)), "text": "x" * 200}


def best_time(rounds: int, iterations: int) -> float:
    """Seconds for ``iterations`` JSON round trips of a small document, best of ``rounds``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(iterations):
            json.loads(json.dumps(_PAYLOAD))
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str]) -> None:
    start_at, rounds, iterations = float(argv[0]), int(argv[1]), int(argv[2])
    while time.time() < start_at:  # spin, not sleep: every core is busy when the timing starts
        pass
    print(best_time(rounds, iterations))


if __name__ == "__main__":
    main(sys.argv[1:])
