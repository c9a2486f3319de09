"""Named test queries (``tests/sql/*.sql``): fixtures the product cannot write as a test needs them,
and the assertion reads the support modules share.

Test support creates state through the project's repositories and use cases. A few scenarios need
rows no product code writes yet (intro opportunities) or rows in a past state (created days ago,
already presented): ``fixture_*`` queries. Reads shared by many tests (a member's priorities, queued
messages, row counts) are ``check_*`` queries. Both run on the same named-query adapter as the
product's, so no SQL string sits in a support module.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from shared.adapters.postgres import Connection, Sql, load_query_dir

FIXTURE_SQL_DIR = Path(__file__).parent / "sql"


@lru_cache(maxsize=1)
def fixture_queries() -> Mapping[str, str]:
    return load_query_dir(FIXTURE_SQL_DIR)


def fixture_sql(conn: Connection) -> Sql:
    """A named-query runner over the test fixtures on ``conn`` (the test's autocommit connection)."""
    return Sql(conn, fixture_queries())
