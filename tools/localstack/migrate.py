"""Apply ``supabase/migrations`` in order to a plain PostgreSQL 15, the way the Supabase CLI does.

- Creates the Supabase roles (``anon``, ``authenticated``, ``service_role``) when missing.
- On a fresh database, grants what a new Supabase project grants before any migration runs:
  ``USAGE`` on ``public`` and default privileges giving ``anon``, ``authenticated`` and
  ``service_role`` everything on tables, sequences and functions created later. The migrations'
  ``REVOKE`` statements then matter here as they do on Supabase (leaving one out is caught by
  tests/integration/test_lock_clauses.py, not hidden by vanilla PostgreSQL's defaults).
- Records applied versions in ``supabase_migrations.schema_migrations`` (the table the
  Supabase CLI itself uses), so a re-run is a no-op.
- Each migration file runs in its own transaction.

Usage: ``python -m tools.localstack.migrate [--seed] [DATABASE_URL]``
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
SEED_FILE = ROOT / "supabase" / "seed.sql"
FILENAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")

# Roles are cluster-wide while the advisory lock below is per database: two runs migrating two
# databases of one server at once (parallel test workers on a DATABASE_URL server) may both try
# to create a role, so losing that race is not an error.
_ROLES_SQL = """
DO $$
DECLARE
  spec text[];
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
    ['anon', 'NOLOGIN NOINHERIT'],
    ['authenticated', 'NOLOGIN NOINHERIT'],
    ['service_role', 'NOLOGIN NOINHERIT BYPASSRLS']
  ] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = spec[1]) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;  -- created meanwhile by a concurrent run
      END;
    END IF;
  END LOOP;
END
$$;
"""

# What Supabase's platform setup grants in every new project (its roles' default privileges on
# ``public``), applied once, before the first migration: never again, or a later run would hand
# ``anon`` the objects the migrations' ``ALTER DEFAULT PRIVILEGES ... REVOKE`` took away.
_SUPABASE_DEFAULT_GRANTS_SQL = """
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
"""

_LEDGER_SQL = """
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (
  version text PRIMARY KEY,
  statements text[],
  name text
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = FILENAME.match(path.name)
        if not match:
            raise ValueError(
                f"migration file name does not follow <14-digit UTC timestamp>_<name>.sql: {path.name}"
            )
        found.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migration files share a version")
    return found


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('yachtparty.migrate'))")
        try:
            conn.execute(_ROLES_SQL)
            fresh = conn.execute("SELECT to_regclass('supabase_migrations.schema_migrations')").fetchone()
            if fresh is not None and fresh[0] is None:
                with conn.transaction():
                    conn.execute(_SUPABASE_DEFAULT_GRANTS_SQL)
                    conn.execute(_LEDGER_SQL)
            else:
                conn.execute(_LEDGER_SQL)
            done = {
                row[0] for row in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")
            }
            for migration in list_migrations(directory):
                if migration.version in done:
                    continue
                text = migration.path.read_text(encoding="utf-8")
                with conn.transaction():
                    conn.execute(text.encode())
                    conn.execute(
                        "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, [text]),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('yachtparty.migrate'))")
    return applied_now


def seed(dsn: str, path: Path = SEED_FILE) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(path.read_bytes())
        conn.commit()


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    from shared.config import get_settings

    dsn = args[0] if args else get_settings().require("database_url")
    applied = migrate(dsn)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    if "--seed" in argv:
        seed(dsn)
        print("seed applied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
