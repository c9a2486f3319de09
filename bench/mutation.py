"""Mutation testing of what mutmut cannot see: the named queries' locking clauses and the
migrations' privileges.

    python -m bench.mutation [--only locks|grants] [--list] [--match TEXT]
    python -m bench.mutation --mutmut shared/domain [--tests tests/unit]

Each mutant is one small edit in a scratch copy of the repository (``git ls-files``, so the
working tree is never touched):

- **locks** (``shared/adapters/sql/*.sql``): ``FOR UPDATE ... SKIP LOCKED`` loses ``SKIP
  LOCKED``; any ``FOR UPDATE [OF x] [SKIP LOCKED]`` is removed; the user advisory lock
  (``pg_advisory_xact_lock``, ``pg_try_advisory_xact_lock``) becomes its ``_shared`` form, which
  never conflicts with itself (the lock removed);
- **grants** (``supabase/migrations/*.sql``): each ``REVOKE`` / ``GRANT`` statement is left out,
  and each ``SECURITY DEFINER`` becomes ``SECURITY INVOKER``.

For each mutant it runs the tests that guard that file (``TESTS``, stopping at the first
failure) and counts the mutant killed when they fail, naming the test that failed (check it is
the race test meant, not a test that fails on a loaded machine anyway). It prints every survivor
and the kill rate. Mutants shown equivalent (``EQUIVALENT``, with the reason) are listed, not run.
(This replaces ``bench.mutate_locks``, which covered the locking clauses alone.)
It runs outside CI, like a benchmark: each mutant starts a pytest session (its own PostgreSQL),
so a full pass takes tens of minutes.

``--mutmut PATH`` runs mutmut (``pip install -r requirements-mutation.txt``) over the Python
package ``PATH`` in a scratch copy (its configuration is written there: the repository's files
are not touched), with ``--tests`` as the test selection, and prints the same summary.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = "shared/adapters/sql"
MIGRATIONS_DIR = "supabase/migrations"

# Which tests guard which file: the named queries by aggregate, the migrations' privileges.
_SECURITY = [
    "tests/integration/test_schema_security.py",
    "tests/integration/test_lock_clauses.py",
    "tests/integration/test_migration_privileges.py",
]
TESTS: dict[str, list[str]] = {
    "community.sql": [
        "tests/integration/test_lock_races.py",
        "tests/integration/test_community.py",
        "tests/integration/test_community_repositories.py",
        "tests/integration/test_lock_clauses.py",
    ],
    "community_responses.sql": [
        "tests/integration/test_lock_races.py",
        "tests/integration/test_community.py",
        "tests/integration/test_community_repositories.py",
    ],
    "conversations.sql": [
        "tests/integration/test_lock_races.py",
        "tests/integration/test_summaries.py",
        "tests/integration/test_sms_races.py",
    ],
    "dead_letters.sql": [
        "tests/integration/test_lock_races.py",
        "tests/integration/test_dead_letters.py",
        "tests/integration/test_dead_letters_ops.py",
        "tests/integration/test_lock_clauses.py",
    ],
    "events.sql": ["tests/integration/test_dispatch.py", "tests/integration/test_lock_clauses.py"],
    "messages.sql": [
        "tests/integration/test_sms_races.py",
        "tests/integration/test_sms_reconcile.py",
        "tests/functions/test_twilio_status.py",
        "tests/integration/test_sms_send.py",
    ],
    "queue.sql": [
        "tests/integration/test_lock_races.py",
        "tests/integration/test_orchestrator.py",
        "tests/integration/test_lock_clauses.py",
    ],
    "tasks.sql": [
        "tests/integration/test_lock_clauses.py",
        "tests/integration/test_lock_races.py",
        "tests/integration/test_tasks.py",
    ],
    "users.sql": [
        "tests/integration/test_sms_races.py",
        "tests/integration/test_credits.py",
        "tests/integration/test_lock_clauses.py",
    ],
    "credit_purchases.sql": [
        "tests/integration/test_lock_races_newer.py",
        "tests/integration/test_purchases_ops.py",
        "tests/functions/test_stripe_webhook.py",
    ],
    "credits.sql": ["tests/integration/test_credits.py"],
    "intro_offers.sql": [
        "tests/integration/test_lock_races_newer.py",
        "tests/integration/test_intros.py",
        "tests/integration/test_concierge_intros.py",
    ],
    "priorities.sql": ["tests/integration/test_account_manager.py"],
    "prospects.sql": [
        "tests/integration/test_lock_races_newer.py",
        "tests/functions/test_prospect_upload.py",
        "tests/functions/test_prospect_upload_duplicates.py",
    ],
    "retention.sql": ["tests/integration/test_lock_races_newer.py", "tests/integration/test_retention.py"],
    "solution_workflows.sql": [
        "tests/integration/test_lock_races_newer.py",
        "tests/integration/test_solution_saga.py",
    ],
    "migrations": _SECURITY,
}

# Mutants shown equivalent (no test can kill them: the behaviour cannot change), keyed by
# ``file:query: what`` (line numbers move), and why. docs/testing.md has the reasoning in full.
EQUIVALENT: dict[str, str] = {
    "messages.sql:messages_lock_for_reconcile: drop 'FOR UPDATE OF m'": (
        "every reconciler and every status callback takes the recipient's UserLock.ACCOUNT before "
        "the row (send_sms._lock_reconcilable, delivery_status.apply_delivery_status), so they "
        "never meet at the row; the sender's step-3 writes (record_sent, release_claim, fail, "
        "block) do not take that lock, but every write on both sides is guarded in its WHERE "
        "(status 'sending', SID still NULL, the lease read), so which one waits changes nothing"
    ),
    "messages.sql:messages_lock_by_sid: drop 'FOR UPDATE'": (
        "status callbacks are serialised by the recipient's UserLock.ACCOUNT taken just before; "
        "the only writer outside that lock is the sender's step 3, whose record_sent keeps any "
        "status a callback already wrote (CASE WHEN status = 'sending') and whose status Twilio's "
        "callback always reaches or passes, so the callback's stale read of 'sending' computes "
        "the same target and the row ends the same either way"
    ),
}

_OF = r"(?:\s+OF\s+[\w.]+(?:\s*,\s*[\w.]+)*)?"
_LOCK = re.compile(rf"\s*FOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE|SHARE){_OF}(?:\s+SKIP\s+LOCKED|\s+NOWAIT)?", re.I)
_SKIP = re.compile(rf"(FOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE){_OF})\s+SKIP\s+LOCKED", re.I)
_NAME = re.compile(r"^-- name:\s*(\S+)", re.M)
_ADVISORY = re.compile(r"\bpg_(try_)?advisory_xact_lock\(")
_GRANT = re.compile(r"^\s*(?:ALTER\s+DEFAULT\s+PRIVILEGES[^;]*?)?(?:GRANT|REVOKE)\b[^;]*;", re.I | re.M)
_DEFINER = re.compile(r"\bSECURITY\s+DEFINER\b", re.I)


@dataclass(frozen=True)
class Mutant:
    kind: str  # "locks" | "grants"
    path: str  # relative to the repository
    start: int
    end: int
    replacement: str
    description: str

    key: str = ""  # ``file:query: what`` for the named queries (EQUIVALENT), "" for grants

    @property
    def equivalent(self) -> str | None:
        return EQUIVALENT.get(self.key) if self.key else None

    @property
    def tests(self) -> list[str]:
        key = "migrations" if self.kind == "grants" else Path(self.path).name
        return TESTS.get(key, [])


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _query_at(text: str, offset: int) -> str:
    names = [m for m in _NAME.finditer(text) if m.start() < offset]
    return names[-1].group(1) if names else "?"


def _in_comment(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    return "--" in text[line_start:offset]


def lock_mutants(root: Path) -> Iterator[Mutant]:
    for path in sorted((root / SQL_DIR).glob("*.sql")):
        rel = str(path.relative_to(root))
        text = path.read_text()
        found: list[tuple[re.Match[str], str, str]] = []
        for m in _SKIP.finditer(text):
            found.append((m, m.group(1), "drop SKIP LOCKED"))
        for m in _LOCK.finditer(text):
            found.append((m, "", f"drop {' '.join(m.group(0).split())!r}"))
        for m in _ADVISORY.finditer(text):
            found.append((m, f"pg_{m.group(1) or ''}advisory_xact_lock_shared(", "advisory lock shared"))
        for m, replacement, what in found:
            at = len(m.group(0)) - len(m.group(0).lstrip()) + m.start()
            if _in_comment(text, at):
                continue  # a comment mentioning the clause, not a query
            query = _query_at(text, at)
            yield Mutant(
                "locks",
                rel,
                m.start(),
                m.end(),
                replacement,
                f"{rel}:{_line(text, at)} {query} {what}",
                key=f"{path.name}:{query}: {what}",
            )


def grant_mutants(root: Path) -> Iterator[Mutant]:
    for path in sorted((root / MIGRATIONS_DIR).glob("*.sql")):
        rel = str(path.relative_to(root))
        text = path.read_text()
        for m in _GRANT.finditer(text):
            statement = " ".join(m.group(0).split())
            yield Mutant(
                "grants",
                rel,
                m.start(),
                m.end(),
                "",
                f"{rel}:{_line(text, m.start())} leave out {statement[:70]!r}",
            )
        for m in _DEFINER.finditer(text):
            yield Mutant(
                "grants",
                rel,
                m.start(),
                m.end(),
                "SECURITY INVOKER",
                f"{rel}:{_line(text, m.start())} DEFINER -> INVOKER",
            )


def scratch_copy() -> Path:
    """The tracked files of the repository in a temporary directory (the venv linked, not copied)."""
    target = Path(tempfile.mkdtemp(prefix="yp-mutants-"))
    target.chmod(0o755)
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in files.decode().split("\0"):
        if not name or name in (".venv", ".venv-checkov"):
            continue
        source = ROOT / name
        if source.is_symlink() or not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)
    return target


def run_tests(copy: Path, tests: list[str], timeout: float) -> tuple[bool, str]:
    """(killed, by what): True when the tests fail, with the first failing test (or the timeout)."""
    existing = [t for t in tests if (copy / t).exists()]
    if not existing:
        return False, "no tests mapped"
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-x",
                "-p",
                "no:randomly",
                "-p",
                "no:cacheprovider",
                "-rfE",
                *existing,
            ],
            cwd=copy,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return True, f"timeout after {timeout:.0f} s"  # a deadlock or a hang is a failure too
    failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return result.returncode != 0, (failed[0][:160] if failed else f"pytest exit {result.returncode}")


# A mutant that never leaves a loop (``split_long_body``'s ``while not fits`` made ``while fits``, or
# its cut made ``None``) hung each test that reached it until pytest-timeout's 300 s (pyproject), and
# several times that in a Hypothesis test: the signal method raises into the test, Hypothesis runs the
# example again to shrink it and the loop times out again (a 3 s timeout took 15 s). mutmut's own
# limit, 15 x the estimated time of every test reaching the function, is minutes too. A short
# per-test timeout with the thread method ends the test process at once (``os._exit(1)``), which
# mutmut counts as a kill.
MUTMUT_TEST_TIMEOUT = 120  # seconds per test; the slowest unit test takes a few on a loaded machine

MUTMUT_CONFIG = """
[mutmut]
source_paths =
    {source}
pytest_add_cli_args_test_selection =
{tests}
pytest_add_cli_args =
    -p
    no:randomly
    -q
    --timeout={test_timeout}
    --timeout-method=thread
only_mutate =
{only}
also_copy =
{also}
"""


def _lines(values: list[str]) -> str:
    return "\n".join(f"    {v}" for v in values)


def _also_copy(copy: Path, source: str) -> list[str]:
    """Everything the tests import, except the package being mutated (mutmut writes that one)."""
    top = ["tools", "tests", "functions", "supabase", "evals", "bench", "pyproject.toml"]
    shared = [
        str(p.relative_to(copy))
        for p in sorted((copy / "shared").iterdir())
        if p.name != "__pycache__" and not source.startswith(str(p.relative_to(copy)))
    ]
    return top + shared


def run_mutmut(source: str, tests: list[str], children: int, only: list[str]) -> int:
    """mutmut over ``source`` in a scratch copy; prints killed / total and the survivors."""
    copy = scratch_copy()
    started = time.monotonic()
    try:
        (copy / "setup.cfg").write_text(
            MUTMUT_CONFIG.format(
                source=source,
                test_timeout=MUTMUT_TEST_TIMEOUT,
                tests=_lines(tests),
                only=_lines(only or [f"{source}/*"]),
                also=_lines(_also_copy(copy, source)),
            )
        )
        mutmut = str(Path(sys.executable).parent / "mutmut")
        subprocess.run([mutmut, "run", "--max-children", str(children)], cwd=copy, check=False)
        listing = subprocess.run(
            [mutmut, "results", "--all", "true"], cwd=copy, capture_output=True, text=True, check=False
        ).stdout
        diffs = [
            subprocess.run([mutmut, "show", line.split(":", 1)[0].strip()], cwd=copy, capture_output=True,
                           text=True, check=False).stdout
            for line in listing.splitlines()
            if line.endswith("survived")
        ]  # fmt: skip
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    statuses = Counter(line.rsplit(":", 1)[1].strip() for line in listing.splitlines() if ":" in line)
    killed = statuses.get("killed", 0) + statuses.get("timeout", 0)
    total = sum(statuses.values()) - statuses.get("skipped", 0) - statuses.get("not checked", 0)
    print(f"\nmutmut over {source}: {killed} of {total} mutants killed ({100 * killed / max(total, 1):.0f}%) "
          f"in {time.monotonic() - started:.0f} s; by status: {dict(statuses)}")  # fmt: skip
    survivors = [line.split(":", 1)[0].strip() for line in listing.splitlines() if line.endswith("survived")]
    if survivors:
        print("survivors:")
        for name in survivors:
            print(f"  {name}")
        print("\nthe surviving mutations:")
        for diff in diffs:
            print(diff.rstrip())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["locks", "grants"], default=None)
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--match", default="", help="only mutants whose description contains this")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant's test run")
    parser.add_argument("--mutmut", metavar="PATH", default=None, help="run mutmut over this package")
    parser.add_argument(
        "--tests",
        nargs="+",
        default=None,
        help="tests to run (mutmut: default tests/unit; SQL mutants: instead of TESTS, to check one test)",
    )
    parser.add_argument("--children", type=int, default=2, help="mutmut's parallel workers")
    parser.add_argument("--files", nargs="+", default=[], help="mutmut: only these files (globs)")
    args = parser.parse_args(argv)
    if args.mutmut:
        return run_mutmut(args.mutmut, args.tests or ["tests/unit"], args.children, args.files)

    mutants = [
        m
        for m in [*lock_mutants(ROOT), *grant_mutants(ROOT)]
        if (args.only is None or m.kind == args.only) and args.match in m.description
    ]
    if args.list:
        for m in mutants:
            mark = "  (equivalent)" if m.equivalent else ""
            print(f"{m.kind:<6} {m.description}{mark}  -> {' '.join(m.tests) or '(no tests mapped)'}")
        return 0
    equivalent = [m for m in mutants if m.equivalent]
    mutants = [m for m in mutants if not m.equivalent]

    copy = scratch_copy()
    killed: list[Mutant] = []
    survived: list[Mutant] = []
    started = time.monotonic()
    try:
        for i, mutant in enumerate(mutants, 1):
            path = copy / mutant.path
            original = path.read_text()
            path.write_text(original[: mutant.start] + mutant.replacement + original[mutant.end :])
            try:
                dead, by = run_tests(copy, args.tests or mutant.tests, args.timeout)
            finally:
                path.write_text(original)
            (killed if dead else survived).append(mutant)
            print(
                f"[{i}/{len(mutants)}] {'killed  ' if dead else 'SURVIVED'} {mutant.description}"
                + (f"\n        by {by}" if dead else ""),
                flush=True,
            )
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    total = len(killed) + len(survived)
    print(f"\n{len(killed)} of {total} mutants killed ({100 * len(killed) / max(total, 1):.0f}%) "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    for kind in ("locks", "grants"):
        k = sum(m.kind == kind for m in killed)
        n = k + sum(m.kind == kind for m in survived)
        if n:
            print(f"  {kind}: {k}/{n}")
    for m in equivalent:
        print(f"equivalent, not run: {m.description}: {m.equivalent}")
    if survived:
        print("survivors (kill each with a test, or write it down as equivalent in docs/testing.md):")
        for m in survived:
            print(f"  {m.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
