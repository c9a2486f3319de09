"""The migrations' own grants to ``service_role``, on a PostgreSQL without Supabase's defaults.

The test cluster grants what a new Supabase project grants (``tools/localstack/migrate.py``: the
client roles and ``service_role`` get default privileges on everything created in ``public``), so
there the migrations' ``GRANT ... TO service_role`` lines change nothing a test can see, and
leaving one out survived the mutation run (docs/testing.md). On a plain PostgreSQL (a self-hosted
database, or a project whose platform defaults changed) those lines are all ``service_role`` has.
Here the migrations run on a database that never received Supabase's defaults: ``service_role``
must still hold every table and function, and objects created later must follow the migrations'
default privileges (``service_role`` in, the client roles out).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tools.localstack.migrate import migrate

pytestmark = pytest.mark.integration

# The migration ledger, created before the first migration: ``migrate()`` then treats the database
# as one it has seen before and adds none of Supabase's platform grants (it adds them only to a
# database without a ledger).
_LEDGER = """
CREATE SCHEMA supabase_migrations;
CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, statements text[], name text);
"""


@pytest.fixture
def plain(pg_server: Any) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit connection to a database migrated without Supabase's default grants."""
    name = f"plain_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_LEDGER)
        migrate(url)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            yield conn
    finally:
        pg_server.drop_database(name)


def _names(conn: psycopg.Connection[dict[str, Any]], sql: str) -> list[str]:
    return [r["name"] for r in conn.execute(sql).fetchall()]


def test_without_supabase_defaults_service_role_still_holds_every_table_and_function(plain):
    assert not plain.execute(
        "SELECT count(*) > 0 AS any FROM pg_default_acl d JOIN pg_roles r ON r.oid = ANY("
        "SELECT (aclexplode(d.defaclacl)).grantee) WHERE r.rolname = 'anon'"
    ).fetchone()["any"], "this database received Supabase's default grants after all"
    tables = _names(
        plain,
        "SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')",
    )
    functions = _names(
        plain,
        "SELECT p.oid::regprocedure::text AS name FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' "
        "WHERE n.nspname = 'public' AND d.objid IS NULL AND p.prokind IN ('f', 'p')",
    )
    assert "users" in tables and "get_pending_tasks_count()" in functions
    missing = [
        f"{privilege} on {table}"
        for table in tables
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
        if not plain.execute(
            "SELECT has_table_privilege('service_role', %s, %s) AS ok", (table, privilege)
        ).fetchone()["ok"]
    ] + [
        f"EXECUTE on {function}"
        for function in functions
        if not plain.execute(
            "SELECT has_function_privilege('service_role', %s, 'EXECUTE') AS ok", (function,)
        ).fetchone()["ok"]
    ]
    assert missing == [], f"service_role lacks {missing[:5]} ({len(missing)} in all)"


def test_without_supabase_defaults_objects_created_later_are_service_roles_alone(plain):
    plain.execute("CREATE SEQUENCE public.yp_probe_seq")
    plain.execute("CREATE FUNCTION public.yp_probe_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    plain.execute("CREATE TABLE public.yp_probe_table (id int)")
    held = {
        role: plain.execute(
            "SELECT has_sequence_privilege(%(r)s, 'public.yp_probe_seq', 'USAGE') AS seq, "
            "has_function_privilege(%(r)s, 'public.yp_probe_fn()', 'EXECUTE') AS fn, "
            "has_table_privilege(%(r)s, 'public.yp_probe_table', 'SELECT') AS tbl",
            {"r": role},
        ).fetchone()
        for role in ("service_role", "anon", "authenticated")
    }
    assert held["service_role"] == {"seq": True, "fn": True, "tbl": True}
    assert held["anon"] == held["authenticated"] == {"seq": False, "fn": False, "tbl": False}
