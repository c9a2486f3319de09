"""Mutation run over the named queries' locking clauses (issue 15 §7), outside CI time.

For every ``FOR UPDATE`` / ``FOR NO KEY UPDATE`` clause in ``shared/adapters/sql/*.sql`` it makes
two mutants: the whole locking clause removed, and (where present) only ``SKIP LOCKED`` removed.
Each mutant runs in a throwaway copy of the committed tree (``git archive HEAD``), never in the
working tree, against the tests that exercise that file (``TESTS_BY_FILE``). A mutant is
*killed* when those tests fail (or time out: a missing SKIP LOCKED shows as a test waiting on a
held row). Prints one line per mutant and the kill rate over the non-equivalent ones; a survivor
is a missing race test, or an equivalent mutant to be written down in ``EQUIVALENT`` with why.

Usage: ``python -m bench.mutate_locks [--only retention.sql messages.sql] [--timeout 90] [--list]``
Each mutant starts its own PostgreSQL cluster; a full run takes tens of minutes.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = Path("shared/adapters/sql")

# The tests that race or hold the rows each file's locking queries protect.
TESTS_BY_FILE: dict[str, list[str]] = {
    "messages.sql": [
        "tests/integration/test_sms_races.py",
        "tests/integration/test_sms_reconcile.py",
        "tests/functions/test_twilio_status.py",
    ],
    "retention.sql": ["tests/integration/test_retention.py"],
    "events.sql": ["tests/integration/test_lock_clauses.py", "tests/integration/test_dispatch.py"],
    "tasks.sql": ["tests/integration/test_lock_clauses.py", "tests/integration/test_tasks.py"],
    "queue.sql": ["tests/integration/test_lock_races.py", "tests/integration/test_orchestrator.py"],
    "dead_letters.sql": [
        "tests/integration/test_lock_races.py",
        "tests/integration/test_dead_letters.py",
        "tests/integration/test_dead_letters_ops.py",
    ],
    "users.sql": ["tests/integration/test_sms_races.py", "tests/integration/test_credits.py"],
    "credits.sql": ["tests/integration/test_credits.py"],
    "community.sql": ["tests/integration/test_lock_races.py", "tests/integration/test_community.py"],
    "priorities.sql": ["tests/integration/test_account_manager.py"],
}

# Mutants shown equivalent (no test can kill them, because the behaviour cannot change), and why.
EQUIVALENT: dict[str, str] = {
    "messages.sql:messages_lock_for_reconcile: no lock": (
        "every writer of a 'sending' row that reconciliation races (the sender's claim, a status "
        "callback, another reconciler) first takes the recipient's UserLock.ACCOUNT, which "
        "_lock_reconcilable also takes; and its writes are guarded updates (claimed_at, status and "
        "SID checked in the WHERE), so the row lock adds no exclusion"
    ),
}

LOCK = re.compile(
    r"\s*(?P<kw>\bFOR)\s+(?:NO\s+KEY\s+)?UPDATE(?:\s+OF\s+[\w.]+(?:\s*,\s*[\w.]+)*)?(?P<skip>\s+SKIP\s+LOCKED|\s+NOWAIT)?",
    re.IGNORECASE,
)
NAME = re.compile(r"^-- name:\s*(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Mutant:
    file: str
    query: str
    kind: str  # "no lock" or "no skip locked"
    start: int
    end: int
    replacement: str

    def label(self) -> str:
        return f"{self.file}:{self.query}: {self.kind}"


def _query_at(text: str, offset: int) -> str:
    names = [m for m in NAME.finditer(text) if m.start() < offset]
    return names[-1].group(1) if names else "?"


def mutants(root: Path, only: list[str] | None) -> list[Mutant]:
    found: list[Mutant] = []
    for path in sorted((root / SQL_DIR).glob("*.sql")):
        if only and path.name not in only:
            continue
        text = path.read_text(encoding="utf-8")
        for match in LOCK.finditer(text):
            line_start = text.rfind("\n", 0, match.start("kw")) + 1
            if text[line_start : match.start("kw")].lstrip().startswith("--"):
                continue  # a comment mentioning the clause, not a query
            query = _query_at(text, match.start())
            found.append(Mutant(path.name, query, "no lock", match.start(), match.end(), ""))
            skip = match.group("skip")
            if skip and "SKIP" in skip.upper():
                found.append(
                    Mutant(path.name, query, "no skip locked", match.start("skip"), match.end("skip"), "")
                )
    return found


def _export_head(into: Path) -> None:
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def run_mutant(mutant: Mutant, timeout: int) -> tuple[bool, float]:
    """(killed, seconds). The mutant lives in a fresh copy of HEAD."""
    tests = TESTS_BY_FILE[mutant.file]
    with tempfile.TemporaryDirectory(prefix="yp-mutant-") as tmp:
        copy = Path(tmp)
        _export_head(copy)
        target = copy / SQL_DIR / mutant.file
        text = target.read_text(encoding="utf-8")
        target.write_text(text[: mutant.start] + mutant.replacement + text[mutant.end :], encoding="utf-8")
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", f"--timeout={timeout}", *tests],
            cwd=copy,
            capture_output=True,
            check=False,
        )
        return result.returncode != 0, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutate_locks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="SQL files to mutate (default: every mapped file)")
    parser.add_argument("--timeout", type=int, default=90, help="seconds per test before it counts as killed")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)

    all_mutants = mutants(ROOT, args.only)
    unmapped = sorted({m.file for m in all_mutants if m.file not in TESTS_BY_FILE})
    runnable = [m for m in all_mutants if m.file in TESTS_BY_FILE]
    if args.list:
        for m in all_mutants:
            print(m.label())
        return 0
    killed = 0
    survivors: list[str] = []
    equivalent = [m for m in runnable if m.label() in EQUIVALENT]
    runnable = [m for m in runnable if m.label() not in EQUIVALENT]
    for m in runnable:
        dead, seconds = run_mutant(m, args.timeout)
        killed += dead
        if not dead:
            survivors.append(m.label())
        print(f"{'killed  ' if dead else 'SURVIVED'} {m.label()} ({seconds:.0f} s)", flush=True)
    for m in equivalent:
        print(f"equivalent {m.label()}: {EQUIVALENT[m.label()]}")
    total = len(runnable)
    rate = killed / total if total else 1.0
    print(f"\nlocking-clause mutants: {killed} of {total} killed ({rate:.0%})")
    if unmapped:
        print(f"not run (no tests mapped): {', '.join(unmapped)}")
    for label in survivors:
        print(f"survivor: {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
