import re
from pathlib import Path

import pytest

from bench.queries import BENCH_SQL_DIR, bench_queries
from shared.adapters.postgres import SQL_DIR, load_queries, parse_queries, query

ROOT = Path(__file__).resolve().parents[2]
# Code that may run named queries. tests/ is left out on purpose: a query only tests use is dead.
CALLER_DIRS = ("shared", "functions", "tools", "bench", "evals")
STRING_LITERAL = re.compile(r"""(["'])([a-z_][a-z0-9_]*)\1""")
QUERY_CALL = re.compile(r"""\.(?:one|all|scalar|run)\(\s*["']([a-z_][a-z0-9_]*)["']""")
AGGREGATE_FILES = {
    "agent_actions",
    "agent_instances",
    "agent_turns",
    "budgets",
    "community",
    "community_responses",
    "credit_purchases",
    "credits",
    "conversations",
    "dead_letters",
    "deliveries",
    "events",
    "innovators",
    "intro_offers",
    "messages",
    "ops",
    "priorities",
    "prospects",
    "queue",
    "re_engagement",
    "solution_workflows",
    "retention",  # retention_archive, and the archive-then-delete batch of each table (platform §6.6)
    "tasks",
    "users",
}


def _caller_sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for folder in CALLER_DIRS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if ".venv" not in path.parts
    }


def test_parse_splits_named_queries_and_drops_description_comments():
    text = """
-- name: first_query
-- Describe the first.
SELECT 1;

-- name: second_query
-- Describe the second.
SELECT %(x)s;
"""
    assert parse_queries(text) == {"first_query": "SELECT 1;", "second_query": "SELECT %(x)s;"}


def test_empty_query_is_refused():
    with pytest.raises(ValueError, match="empty"):
        parse_queries("-- name: nothing\n-- only a comment\n")


def test_project_query_files_load_with_unique_names():
    queries = load_queries()
    assert "events_insert" in queries
    assert all(sql.strip() for sql in queries.values())


def test_unknown_query_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no_such_query"):
        query("no_such_query")


def test_every_named_query_is_used_outside_the_tests():
    named = set(load_queries())
    literals = {m.group(2) for text in _caller_sources().values() for m in STRING_LITERAL.finditer(text)}
    unused = sorted(named - literals)
    assert unused == [], f"named queries nothing in {', '.join(CALLER_DIRS)} runs (delete them): {unused}"


def test_every_query_a_caller_names_exists():
    named = set(load_queries())
    bench_named = named | set(bench_queries())  # the benchmarks may also run their seed queries
    missing = sorted(
        f"{path.relative_to(ROOT)}: {m.group(1)}"
        for path, text in _caller_sources().items()
        for m in QUERY_CALL.finditer(text)
        if m.group(1) not in (bench_named if path.is_relative_to(ROOT / "bench") else named)
    )
    assert missing == []


def test_bench_queries_are_used_by_the_benchmarks_and_apart_from_the_products():
    bench = set(bench_queries())
    assert BENCH_SQL_DIR.is_dir() and bench
    assert not bench & set(load_queries()), "a bench query shadows a product query"
    bench_text = "\n".join(
        text for path, text in _caller_sources().items() if path.is_relative_to(ROOT / "bench")
    )
    used = {m.group(2) for m in STRING_LITERAL.finditer(bench_text)}
    assert sorted(bench - used) == []


def test_query_files_are_named_after_the_data_they_touch():
    assert {path.stem for path in SQL_DIR.glob("*.sql")} <= AGGREGATE_FILES
