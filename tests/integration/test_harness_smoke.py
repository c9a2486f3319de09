import pytest

pytestmark = pytest.mark.integration


def test_fresh_database_is_migrated(db):
    row = db.execute("SELECT count(*) AS n FROM supabase_migrations.schema_migrations").fetchone()
    assert row is not None
    assert row["n"] >= 0
