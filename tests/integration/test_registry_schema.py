"""The migrations' CHECK constraints name exactly the agents of the registry: the two cannot drift."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared import registry

pytestmark = pytest.mark.integration


def allowed_values(db: Any, constraint: str) -> set[str]:
    row = db.execute(
        "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = %s", (constraint,)
    ).fetchone()
    assert row is not None, f"constraint {constraint} is missing"
    return set(re.findall(r"'([^']+)'", row["def"]))


def test_messages_role_check_is_the_registry_roles(db):
    assert allowed_values(db, "messages_role_check") == set(registry.message_roles())


def test_users_poc_agent_type_check_is_the_registry_points_of_contact(db):
    assert allowed_values(db, "users_poc_agent_type_check") == set(registry.poc_agent_keys())


def test_registry_agent_keys_fit_the_agent_type_columns(db):
    widths = db.execute(
        "SELECT table_name, character_maximum_length AS width FROM information_schema.columns"
        " WHERE column_name = 'agent_type' AND table_schema = 'public'"
    ).fetchall()
    assert widths
    for row in widths:
        assert all(len(key) <= row["width"] for key in registry.task_agent_types()), row["table_name"]
