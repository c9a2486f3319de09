"""No SQL string outside the query files (issue #8 §4): the benchmarks, the evals and the test
support modules reach the database through repositories, use cases or named queries.

Allowed places: the product's ``shared/adapters/sql``, the benchmarks' bulk seeds in ``bench/sql``
(loaded by the same named-query adapter), the test fixtures and assertion reads in ``tests/sql``
(rows no product code writes, past states, shared reads), the migration runner and the cluster tool
(``tools/``). Individual test files may still read (and arrange corner cases) with SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bench.queries import bench_queries
from shared.adapters.postgres import load_queries
from tests.fixture_support import FIXTURE_SQL_DIR, fixture_queries

ROOT = Path(__file__).resolve().parents[2]

WRITES = re.compile(
    r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|TRUNCATE|COPY\s+\w+|CREATE\s+(TEMP\s+|TEMPORARY\s+)?TABLE)\b"
)
READS = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bANALYZE\b|\bWITH\s+\w+\s+AS\s*\(")


def _strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module (an f-string's literal parts joined), with its line."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    parts_of_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if id(node) in parts_of_fstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            found.append((node.lineno, " ".join(parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def _offences(paths: list[Path], pattern: re.Pattern[str]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:60]!r}"
        for path in paths
        for line, text in _strings(path)
        if pattern.search(text)
    )


def _bench_and_evals() -> list[Path]:
    return sorted(p for folder in ("bench", "evals") for p in (ROOT / folder).rglob("*.py"))


def _support_modules() -> list[Path]:
    tests = ROOT / "tests"
    probes = tests.glob("functions/*/main.py")  # functions the tests deploy (consumer_probe)
    return sorted({*tests.glob("*_support.py"), *tests.rglob("conftest.py"), *probes})


def test_the_detector_sees_sql_in_every_form_it_takes(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'a = "INSERT INTO users (phone_number) VALUES (%s)"\n'
        'b = ("SELECT id"\n     " FROM users")\n'
        'c = f"UPDATE users SET verified = {True}"\n'
        'd = "COPY users (phone_number) FROM STDIN"\n'
        'e = "CREATE TEMP TABLE m AS SELECT 1"\n'
        'f = "select a member from the list"\n',
        encoding="utf-8",
    )
    writes = [t for _, t in _strings(sample) if WRITES.search(t)]
    reads = [t for _, t in _strings(sample) if READS.search(t)]
    assert len(writes) == 4 and len(reads) == 1  # prose ("select ... from") is not SQL


def test_no_sql_string_in_the_benchmarks_or_the_evals() -> None:
    pattern = re.compile(f"{WRITES.pattern}|{READS.pattern}")
    offences = _offences(_bench_and_evals(), pattern)
    assert offences == [], "move these statements into bench/sql/*.sql (named queries):\n" + "\n".join(
        offences
    )


def test_no_sql_string_in_test_support() -> None:
    offences = _offences(_support_modules(), re.compile(f"{WRITES.pattern}|{READS.pattern}"))
    assert offences == [], (
        "create rows through repositories or use cases; name other statements in tests/sql:\n"
        + "\n".join(offences)
    )


def test_fixture_and_bench_queries_do_not_shadow_the_products() -> None:
    product = set(load_queries())
    assert not product & set(fixture_queries())
    assert not product & set(bench_queries())
    assert not set(fixture_queries()) & set(bench_queries())


def test_every_fixture_query_is_used_by_test_support() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in _support_modules())
    unused = sorted(name for name in fixture_queries() if f'"{name}"' not in text)
    assert unused == [], f"fixture queries no support module runs (delete them): {unused}"
    stems = {"agent_actions", "community", "counts", "events", "intros", "messages", "priorities", "queue"}
    stems.add("tasks")
    assert {p.stem for p in FIXTURE_SQL_DIR.glob("*.sql")} <= stems
