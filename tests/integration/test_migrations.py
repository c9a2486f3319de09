"""The migrations: naming, applying on an empty database, idempotent re-runs, the Supabase CLI
layout, and the demo seed."""

from __future__ import annotations

import re
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tools.localstack.migrate import MIGRATIONS_DIR, ROOT, list_migrations, migrate, seed

pytestmark = pytest.mark.integration

SUPABASE_DIR = ROOT / "supabase"
NAME = re.compile(r"^(\d{14})_[a-z0-9_]+\.sql$")


def _fingerprint(url: str) -> list[tuple[str, ...]]:
    """Every relation, column, constraint, index, function and trigger of public (names + defs)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT 'rel', c.relname, c.relkind::text FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
            UNION ALL
            SELECT 'col', table_name || '.' || column_name, data_type || coalesce(column_default, '')
              FROM information_schema.columns WHERE table_schema = 'public'
            UNION ALL
            SELECT 'con', conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
              JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
            UNION ALL
            SELECT 'fn', p.proname, md5(p.prosrc) FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
            UNION ALL
            SELECT 'trg', t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT t.tgisinternal
            ORDER BY 1, 2, 3
            """
        ).fetchall()
    return [tuple(str(v) for v in row) for row in rows]


@pytest.fixture
def empty_database(pg_server):
    name = f"empty_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


def test_file_names_are_utc_timestamped_and_ordered():
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*"))
    assert files, "no migrations"
    assert all(f.endswith(".sql") for f in files), files
    versions = []
    for name in files:
        match = NAME.match(name)
        assert match, f"{name} does not follow <14-digit UTC timestamp>_<name>.sql"
        stamp = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        assert stamp.year >= 2025
        versions.append(match.group(1))
    assert len(set(versions)) == len(versions), "two migrations share a version"
    assert [m.path.name for m in list_migrations()] == files


def test_every_migration_applies_on_an_empty_database_and_rerun_is_a_no_op(empty_database):
    expected = [m.version for m in list_migrations()]

    applied = migrate(empty_database)
    assert applied == expected

    before = _fingerprint(empty_database)
    assert any(kind == "rel" and name == "users" for kind, name, _ in before)

    assert migrate(empty_database) == []
    assert _fingerprint(empty_database) == before
    with psycopg.connect(empty_database) as conn:
        rows = conn.execute(
            "SELECT version FROM supabase_migrations.schema_migrations ORDER BY version"
        ).fetchall()
    assert [r[0] for r in rows] == expected


def test_migrations_apply_one_at_a_time_in_order(empty_database, tmp_path: Path):
    """Each file works on top of exactly its predecessors (what `supabase db push` does)."""
    staged = tmp_path / "migrations"
    staged.mkdir()
    for migration in list_migrations():
        (staged / migration.path.name).write_bytes(migration.path.read_bytes())
        assert migrate(empty_database, staged) == [migration.version]


def test_migrations_need_no_supabase_only_schema_or_psql_meta_commands():
    for migration in list_migrations():
        text = migration.path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            assert not stripped.startswith("\\"), f"{migration.path.name}:{number}: psql meta-command"
            assert not stripped.startswith("//"), f"{migration.path.name}:{number}: '//' is not SQL"
        # pg_net is optional: it may only be reached through dynamic SQL.
        static = text.replace("'SELECT net.http_post(", "")
        assert not re.search(r"\bnet\.http_post\s*\(", static), (
            f"{migration.path.name} calls net.http_post statically"
        )
        assert "auth." not in text, f"{migration.path.name} needs the Supabase auth schema"


def test_supabase_cli_layout():
    config = tomllib.loads((SUPABASE_DIR / "config.toml").read_text(encoding="utf-8"))
    assert config["project_id"]
    assert config["db"]["major_version"] == 15
    assert (SUPABASE_DIR / "seed.sql").is_file()


def test_seed_applies_twice_and_is_idempotent(database_url):
    seed(database_url)
    with psycopg.connect(database_url) as conn:
        counts_once = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM innovators)"
        ).fetchone()
    seed(database_url)
    with psycopg.connect(database_url) as conn:
        counts_twice = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM innovators)"
        ).fetchone()
        members = conn.execute(
            "SELECT count(*) FROM users WHERE verified AND poc_agent_type = 'concierge' "
            "AND cardinality(expertise) > 0"
        ).fetchone()
        innovator = conn.execute(
            "SELECT u.innovator, u.poc_agent_type, i.warm_intro_bounty FROM innovators i "
            "JOIN users u ON u.id = i.user_id"
        ).fetchall()
        referred = conn.execute("SELECT count(*) FROM users WHERE referred_by IS NOT NULL").fetchone()
        numbers = conn.execute("SELECT phone_number FROM users").fetchall()
        secrets = conn.execute("SELECT count(*) FROM app_settings").fetchone()
        without_conversation = conn.execute(
            "SELECT count(*) FROM users u WHERE u.verified AND NOT EXISTS "
            "(SELECT 1 FROM conversations c WHERE c.user_id = u.id AND c.status = 'active')"
        ).fetchone()
        conversations = conn.execute("SELECT count(*) FROM conversations").fetchone()
    assert counts_once == counts_twice
    assert without_conversation == (0,)  # re-engagement and queued messages can reach every demo member
    assert conversations is not None and counts_once is not None and conversations[0] == counts_once[0]
    assert counts_once is not None and counts_once[0] >= 4
    assert members is not None and members[0] >= 2
    assert innovator == [(True, "innovator", 25)] * 2
    assert referred is not None and referred[0] >= 1
    assert all(n[0].startswith("+1415555") for n in numbers)
    assert secrets == (0,)
