"""The fuzz suites' longer pass, outside CI time (issue 15, "hostile input never becomes a 500").

    python -m bench.fuzz [--examples 500] [--seed N] [-k EXPRESSION]

Runs the hypothesis fuzz tests (``tests/functions/test_fuzz_entrypoints.py``,
``test_commerce_fuzz.py``, ``test_fuzz_pushes.py``) with ``--examples`` examples per test
instead of CI's few dozen, through functions-framework against the real PostgreSQL (and, for the
database webhooks, the Pub/Sub emulator) that the test suite starts. Every answer is tallied
(``tests/fuzz_support.py``); the job prints the requests each entry point got, by status, and
the number answered with a 5xx, which must be 0. Hypothesis stops a test at its first failing
example and then shrinks it, so a 5xx count above 0 counts the failure and its replays; the
failing tests and their minimal inputs are in pytest's output above the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ_FILES = (
    "tests/functions/test_fuzz_entrypoints.py",
    "tests/functions/test_commerce_fuzz.py",
    "tests/functions/test_fuzz_pushes.py",
)


def tally(path: Path) -> dict[str, Counter[int]]:
    """function -> Counter of the statuses it answered (one JSON line per answer)."""
    by_function: dict[str, Counter[int]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            answer = json.loads(line)
            by_function.setdefault(answer["function"], Counter())[int(answer["status"])] += 1
    return by_function


def report(by_function: dict[str, Counter[int]]) -> tuple[int, int]:
    """Print the table; return (requests, answers >= 500)."""
    print(f"\n{'entry point':<26} {'requests':>9} {'2xx':>7} {'4xx':>7} {'5xx':>5}  statuses")
    total = server_errors = 0
    for function in sorted(by_function):
        statuses = by_function[function]
        n = sum(statuses.values())
        classes = {c: sum(v for s, v in statuses.items() if s // 100 == c) for c in (2, 4, 5)}
        detail = ", ".join(f"{s}: {v}" for s, v in sorted(statuses.items()))
        print(f"{function:<26} {n:>9} {classes[2]:>7} {classes[4]:>7} {classes[5]:>5}  {detail}")
        total += n
        server_errors += classes[5]
    print(f"{'all':<26} {total:>9} {'':>7} {'':>7} {server_errors:>5}")
    return total, server_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--examples", type=int, default=500, help="hypothesis examples per fuzz test")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (random by default)")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k: only these tests")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="yp-fuzz-") as scratch:
        tally_path = Path(scratch) / "answers.jsonl"
        env = {**os.environ, "FUZZ_EXAMPLES": str(args.examples), "FUZZ_TALLY": str(tally_path)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "--timeout=0", *FUZZ_FILES]
        if args.seed is not None:
            command.append(f"--hypothesis-seed={args.seed}")
        if args.keyword:
            command += ["-k", args.keyword]
        print(f"fuzz: {args.examples} examples per test; load average {os.getloadavg()[0]:.2f}", flush=True)
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, env=env, check=False)
        elapsed = time.monotonic() - started
        total, server_errors = report(tally(tally_path))
    print(
        f"\n{total} requests in {elapsed:.0f} s; answered 5xx: {server_errors} (target 0); "
        f"pytest exit status {result.returncode}"
    )
    return 1 if server_errors or result.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
