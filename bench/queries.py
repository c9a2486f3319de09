"""The benchmarks' own named queries (``bench/sql/*.sql``): bulk seeds and the naive baseline's reads.

Seeding 10,000-100,000 members one by one through the repositories would dwarf the measured work,
so the benches seed with set-based statements; like the product's SQL they live in query files,
loaded by the same named-query adapter, and no SQL string stays in ``bench/*.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from shared.adapters.postgres import Connection, Sql, load_query_dir

BENCH_SQL_DIR = Path(__file__).parent / "sql"


@lru_cache(maxsize=1)
def bench_queries() -> Mapping[str, str]:
    return load_query_dir(BENCH_SQL_DIR)


def bench_sql(conn: Connection) -> Sql:
    """A named-query runner over the benchmarks' queries on ``conn``."""
    return Sql(conn, bench_queries())
