"""The agent_turns migration backfills what the previous code read from the audit log and the outbox."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tools.localstack.migrate import list_migrations, migrate

pytestmark = pytest.mark.integration

AGENT_TURNS = "20261201120000"


@pytest.fixture
def before_agent_turns(pg_server: Any, tmp_path: Path) -> Any:
    """A database migrated up to (not including) the agent_turns migration, and the staged folder."""
    name = f"pre_{uuid.uuid4().hex[:10]}"
    url = pg_server.create_database(name)
    staged = tmp_path / "migrations"
    staged.mkdir()
    for migration in list_migrations():
        if migration.version < AGENT_TURNS:
            (staged / migration.path.name).write_bytes(migration.path.read_bytes())
    migrate(url, staged)
    try:
        yield url, staged
    finally:
        pg_server.drop_database(name)


def test_backfill_marks_answered_messages_and_verification_requests(before_agent_turns: Any) -> None:
    url, staged = before_agent_turns
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        db: Any = conn

        def user(phone: str) -> tuple[Any, Any]:
            uid = db.execute("INSERT INTO users (phone_number) VALUES (%s) RETURNING id", [phone]).fetchone()
            conv = db.execute(
                "INSERT INTO conversations (user_id, phone_number) VALUES (%s, %s) RETURNING id",
                [uid["id"], phone],
            ).fetchone()
            return uid["id"], conv["id"]

        def message(uid: Any, conv: Any, role: str, text: str, at: str) -> Any:
            direction, status = ("inbound", "received") if role == "user" else ("outbound", "sent")
            return db.execute(
                "INSERT INTO messages (conversation_id, user_id, role, content, direction, status,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, now() - %s::interval) RETURNING id",
                [conv, uid, role, text, direction, status, at],
            ).fetchone()["id"]

        # a user with an audited turn: one message named by it, one older (the watermark), one new
        a, conv_a = user("+14155550141")
        older = message(a, conv_a, "user", "older", "3 hours")
        named = message(a, conv_a, "user", "hey", "2 hours")
        message(a, conv_a, "bouncer", "Who told you?", "119 minutes")
        unanswered = message(a, conv_a, "user", "Ben", "1 minute")
        turn_id = db.execute(
            "INSERT INTO agent_actions_log (agent_type, action_type, user_id, context_id, input_data,"
            " output_data, created_at) VALUES ('bouncer', 'agent_turn', %s, %s, %s, %s,"
            " now() - interval '119 minutes') RETURNING id",
            [
                a,
                conv_a,
                json.dumps({"message_ids": [str(named)], "call_kind": "decision"}),
                json.dumps(
                    {
                        "answered_through": "2000-01-01T00:00:00+00:00",
                        "status": "answered",
                        "path": "fallback",
                        "tools": [],
                        "message_ids": ["x"],
                    }
                ),
            ],
        ).fetchone()["id"]
        db.execute(
            "UPDATE agent_actions_log SET output_data = jsonb_set(output_data, '{answered_through}',"
            " to_jsonb((SELECT created_at FROM messages WHERE id = %s)::text)) WHERE id = %s",
            [named, turn_id],
        )
        # a user from before any audited turn: answered up to the last reply
        b, conv_b = user("+14155550142")
        before_reply = message(b, conv_b, "user", "hi", "2 days")
        message(b, conv_b, "bouncer", "Hey.", "47 hours")
        after_reply = message(b, conv_b, "user", "still there?", "1 hour")
        db.execute(
            "INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_at)"
            " VALUES ('user.verification.pending', 'user', %s, '{}', now() - interval '5 hours')",
            [b],
        )

    for migration in list_migrations():
        if migration.version >= AGENT_TURNS:
            (staged / migration.path.name).write_bytes(migration.path.read_bytes())
    assert AGENT_TURNS in migrate(url, staged)

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        db = conn
        marker = {
            r["id"]: r["answered_by_turn_id"]
            for r in db.execute("SELECT id, answered_by_turn_id FROM messages WHERE direction = 'inbound'")
        }
        assert marker[named] == turn_id and marker[older] == turn_id and marker[unanswered] is None
        turn = db.execute("SELECT * FROM agent_turns WHERE id = %s", [turn_id]).fetchone()
        assert (turn["status"], turn["path"], turn["delivery"], turn["user_id"]) == (
            "answered",
            "fallback",
            "reply",
            a,
        )
        assert marker[before_reply] is not None and marker[after_reply] is None
        backfill = db.execute("SELECT * FROM agent_turns WHERE id = %s", [marker[before_reply]]).fetchone()
        assert (backfill["user_id"], backfill["path"]) == (b, "backfill")
        requested = {
            r["id"]: r["verification_requested_at"]
            for r in db.execute("SELECT id, verification_requested_at FROM users")
        }
        assert requested[a] is None and requested[b] is not None
        rls = db.execute("SELECT relrowsecurity FROM pg_class WHERE relname = 'agent_turns'").fetchone()
        assert rls["relrowsecurity"] is True
