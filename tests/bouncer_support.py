"""Arrange and read helpers shared by the Bouncer's integration tests (real Postgres)."""

from __future__ import annotations

import uuid
from typing import Any

DOMAIN = "verify.example.test"


def new_user(db: Any, phone: Any = "+14155550100", **fields: Any) -> Any:
    """A users row (with any extra columns) and its active conversation: (user id, conversation id)."""
    cols = ["phone_number", *fields]
    row = db.execute(
        f"INSERT INTO users ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id",
        [phone, *fields.values()],
    ).fetchone()
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, %s) RETURNING id", [row["id"], phone]
    ).fetchone()
    return row["id"], conv["id"]


def say(db: Any, user_id: Any, conversation_id: Any, text: Any) -> Any:
    """An inbound SMS from the user, as twilio_inbound stores it."""
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status,"
        " twilio_message_sid)"
        " VALUES (%s, %s, 'user', %s, 'inbound', 'received', %s)",
        [conversation_id, user_id, text, "SM" + uuid.uuid4().hex],
    )


def replies(db: Any, user_id: Any) -> Any:
    """The Bouncer's outbound messages to the user, in sending order."""
    rows = db.execute(
        "SELECT content FROM messages WHERE user_id = %s AND direction = 'outbound'"
        " ORDER BY created_at, sequence_position NULLS FIRST, id",
        [user_id],
    ).fetchall()
    return [r["content"] for r in rows]


def deliver_queued(now: Any = None) -> Any:
    """One message-orchestrator tick on this test's database (proactive messages leave the queue)."""
    from datetime import UTC, datetime

    from shared.adapters.orchestrator_store import PostgresOrchestratorStore
    from shared.service_layer.freshness import AssumeRelevantClassifier
    from shared.service_layer.orchestrate import run_tick

    return run_tick(
        PostgresOrchestratorStore(), now=now or datetime.now(UTC), classifier=AssumeRelevantClassifier()
    )


def queued(db: Any, user_id: Any) -> Any:
    """The user's message_queue rows, oldest first."""
    return db.execute(
        "SELECT * FROM message_queue WHERE user_id = %s ORDER BY created_at, sequence_position NULLS FIRST",
        [user_id],
    ).fetchall()
