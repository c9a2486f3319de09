"""Triggers and constraints of the schema: phone-number change, conversation summary counter,
credit cache, CHECK vocabularies, unique keys."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from psycopg import errors

from shared.domain.constants import SUMMARY_EVERY_MESSAGES

pytestmark = pytest.mark.integration


def _user(db, phone: str = "+14155550120") -> Any:
    row = db.execute("INSERT INTO users (phone_number) VALUES (%s) RETURNING id", (phone,)).fetchone()
    return row["id"]


def _conversation(db, user_id: Any, phone: str = "+14155550120", status: str = "active") -> Any:
    row = db.execute(
        "INSERT INTO conversations (user_id, phone_number, status) VALUES (%s, %s, %s) RETURNING id",
        (user_id, phone, status),
    ).fetchone()
    return row["id"]


def _messages(db, conversation_id: uuid.UUID, user_id: uuid.UUID, count: int) -> None:
    """Inserted one statement per message, as the functions do (alternating direction)."""
    for i in range(count):
        inbound = i % 2 == 0
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                conversation_id,
                user_id,
                "user" if inbound else "bouncer",
                f"message {i}",
                "inbound" if inbound else "outbound",
                "received" if inbound else "sent",
            ),
        )


def _summary_tasks(db, conversation_id: Any) -> Any:
    return db.execute(
        "SELECT * FROM agent_tasks WHERE task_type = 'create_conversation_summary' "
        "AND context_json->>'conversation_id' = %s ORDER BY created_at",
        (str(conversation_id),),
    ).fetchall()


def _since(db, conversation_id: uuid.UUID) -> int:
    row = db.execute(
        "SELECT messages_since_summary FROM conversations WHERE id = %s", (conversation_id,)
    ).fetchone()
    return int(row["messages_since_summary"])


# --- phone-number change ----------------------------------------------------------------------


def test_phone_change_keeps_history_and_closes_active_conversations(db):
    user = _user(db, "+14155550120")
    other = _user(db, "+14155550121")
    active = _conversation(db, user, "+14155550120")
    paused = _conversation(db, user, "+14155550120", status="paused")
    others = _conversation(db, other, "+14155550121")

    db.execute("UPDATE users SET phone_number = '+14155550122' WHERE id = %s", (user,))

    row = db.execute("SELECT phone_number, phone_number_history FROM users WHERE id = %s", (user,)).fetchone()
    assert row["phone_number"] == "+14155550122"
    history = row["phone_number_history"]
    assert len(history) == 1
    assert history[0]["phone_number"] == "+14155550120"
    assert history[0]["changed_reason"] == "user_update"
    assert history[0]["changed_at"]
    statuses = {r["id"]: r["status"] for r in db.execute("SELECT id, status FROM conversations").fetchall()}
    assert statuses == {active: "closed", paused: "paused", others: "active"}

    # A second change appends; a new conversation can be opened on the new number.
    with db.transaction():
        db.execute("SET LOCAL yp.phone_change_reason = 'number_recycled'")
        db.execute("UPDATE users SET phone_number = '+14155550123' WHERE id = %s", (user,))
    history = db.execute("SELECT phone_number_history FROM users WHERE id = %s", (user,)).fetchone()[
        "phone_number_history"
    ]
    assert [h["phone_number"] for h in history] == ["+14155550120", "+14155550122"]
    assert history[1]["changed_reason"] == "number_recycled"
    _conversation(db, user, "+14155550123")


def test_update_without_phone_change_leaves_history_and_conversations_alone(db):
    user = _user(db)
    conversation = _conversation(db, user)
    db.execute("UPDATE users SET first_name = 'Ada', phone_number = phone_number WHERE id = %s", (user,))
    row = db.execute("SELECT phone_number_history FROM users WHERE id = %s", (user,)).fetchone()
    assert row["phone_number_history"] == []
    status = db.execute("SELECT status FROM conversations WHERE id = %s", (conversation,)).fetchone()
    assert status["status"] == "active"


def test_phone_trigger_edits_new_rather_than_updating_users():
    """decisions B13: the function body must not UPDATE users (it would recurse/fight NEW)."""
    from tools.localstack.migrate import list_migrations

    for migration in list_migrations():
        text = migration.path.read_text(encoding="utf-8")
        if "handle_phone_number_change()" not in text:
            continue
        body = text.split("FUNCTION public.handle_phone_number_change()", 1)[1].split("$$;", 1)[0]
        assert "UPDATE public.users" not in body and "UPDATE users" not in body
        assert "NEW.phone_number_history :=" in body


# --- conversation summary counter -----------------------------------------------------------


def test_summary_task_every_fifty_messages_never_stacked(db):
    user = _user(db)
    conversation = _conversation(db, user)

    _messages(db, conversation, user, SUMMARY_EVERY_MESSAGES - 1)
    assert _summary_tasks(db, conversation) == []
    assert _since(db, conversation) == SUMMARY_EVERY_MESSAGES - 1

    _messages(db, conversation, user, 1)
    tasks = _summary_tasks(db, conversation)
    assert len(tasks) == 1
    task = tasks[0]
    assert task["agent_type"] == "system"
    assert task["priority"] == "medium"
    assert task["status"] == "pending"
    assert task["created_by"] == "conversation_summary_trigger"
    assert task["context_json"] == {"conversation_id": str(conversation)}
    assert task["dedupe_key"]
    assert _since(db, conversation) == 0

    # The first is still pending at the 100th: nothing stacked, the counter still resets.
    _messages(db, conversation, user, SUMMARY_EVERY_MESSAGES)
    assert len(_summary_tasks(db, conversation)) == 1
    assert _since(db, conversation) == 0

    # Once it is done, the next 50 create exactly one more.
    db.execute(
        "UPDATE agent_tasks SET status = 'completed', completed_at = now() WHERE id = %s", (task["id"],)
    )
    _messages(db, conversation, user, SUMMARY_EVERY_MESSAGES - 1)
    assert len(_summary_tasks(db, conversation)) == 1
    _messages(db, conversation, user, 1)
    tasks = _summary_tasks(db, conversation)
    assert [t["status"] for t in tasks] == ["completed", "pending"]
    assert _since(db, conversation) == 0


def test_summary_counter_is_per_conversation(db):
    a_user = _user(db, "+14155550130")
    b_user = _user(db, "+14155550131")
    a = _conversation(db, a_user, "+14155550130")
    b = _conversation(db, b_user, "+14155550131")
    _messages(db, a, a_user, 30)
    _messages(db, b, b_user, 30)
    assert _summary_tasks(db, a) == [] and _summary_tasks(db, b) == []
    assert (_since(db, a), _since(db, b)) == (30, 30)
    last = db.execute("SELECT last_message_at FROM conversations WHERE id = %s", (a,)).fetchone()
    assert last["last_message_at"] is not None


# --- credits ----------------------------------------------------------------------------------


def _credit(db, user: Any, amount: int, key: str, processed: bool) -> Any:
    return db.execute(
        "INSERT INTO credit_events (user_id, event_type, amount, reference_type, reference_id, "
        "idempotency_key, processed) VALUES (%s, 'community_response', %s, 'community_response', %s, %s, %s) "
        "RETURNING id",
        (user, amount, uuid.uuid4(), key, processed),
    ).fetchone()["id"]


def _balances(db, user) -> tuple[int, int]:
    cached = db.execute("SELECT credit_balance FROM users WHERE id = %s", (user,)).fetchone()[
        "credit_balance"
    ]
    view = db.execute("SELECT balance FROM user_credit_balances WHERE user_id = %s", (user,)).fetchone()
    return cached, (0 if view is None else int(view["balance"]))


def test_credit_cache_follows_the_processed_ledger(db):
    user = _user(db)
    other = _user(db, "+14155550140")

    pending = _credit(db, user, 25, "prospect_converted_a", processed=False)
    assert _balances(db, user) == (0, 0)

    db.execute("UPDATE credit_events SET processed = true, processed_at = now() WHERE id = %s", (pending,))
    assert _balances(db, user) == (25, 25)

    _credit(db, user, 45, "community_response_b", processed=True)
    spend = _credit(db, user, -30, "spend_c", processed=True)
    assert _balances(db, user) == (40, 40)

    db.execute("UPDATE credit_events SET processed = false WHERE id = %s", (spend,))
    assert _balances(db, user) == (70, 70)

    _credit(db, other, 50, "intro_completed_d", processed=True)
    assert _balances(db, user) == (70, 70)
    assert _balances(db, other) == (50, 50)


def test_duplicate_credit_idempotency_key_is_rejected(db):
    user = _user(db)
    _credit(db, user, 15, "community_response_x", processed=True)
    with pytest.raises(errors.UniqueViolation) as raised:
        _credit(db, user, 15, "community_response_x", processed=True)
    assert raised.value.diag.constraint_name == "credit_events_idempotency_key_key"
    assert _balances(db, user) == (15, 15)


# --- CHECK constraints and unique keys --------------------------------------------------------

BAD_VALUES = [
    ("messages", "status", "queued_for_send"),
    ("messages", "direction", "sideways"),
    ("messages", "role", "admin"),
    ("messages", "inbound_pending", "pending"),
    ("conversations", "status", "archived"),
    ("agent_tasks", "status", "done"),
    ("agent_tasks", "priority", "critical"),
    ("message_queue", "status", "sending"),
    ("message_queue", "priority", "immediate"),
    ("users", "poc_agent_type", "account_manager"),
    ("users", "approval_status", "maybe"),
    ("users", "phone_number", "4155550150"),
    ("intro_offers", "context_type", "cold_call"),
    ("intro_offers", "status", "open"),
    ("community_requests", "status", "pending"),
    ("community_responses", "status", "ignored"),
    ("user_priorities", "status", "open"),
    ("intro_opportunities", "status", "maybe"),
    ("connection_requests", "status", "pending"),
    ("prospects", "status", "new"),
    ("event_dead_letters", "source", "cron"),
]


_PHONE_SUFFIXES = itertools.count(1)  # distinct numbers for _insert_with, which one test calls twice


def _insert_with(db, table: str, column: str, value: str | None) -> None:
    """Insert a valid row into ``table`` with ``column`` set to ``value`` (None: all valid). Its two
    users get numbers no other call in this process has used: random ones collided one time in
    10,000 between a test's two calls (a clean-clone CI run failed on users_phone_number_key)."""
    suffix = next(_PHONE_SUFFIXES) % 10000
    user = _user(db, f"+1415555{suffix:04d}")
    other = _user(db, f"+1415556{suffix:04d}")
    conv = _conversation(db, user, "+14155550199")

    def pick(col: str, good: str) -> str:
        return value if (column == col and value is not None) else good

    if table == "messages":
        direction = "inbound" if column == "inbound_pending" else pick("direction", "outbound")
        good_status = "received" if direction == "inbound" else "pending"
        status = value if column in ("status", "inbound_pending") and value else good_status
        db.execute(
            "INSERT INTO messages (conversation_id, user_id, role, content, direction, status) "
            "VALUES (%s, %s, %s, 'x', %s, %s)",
            (conv, user, pick("role", "concierge"), direction, status),
        )
    elif table == "conversations":
        db.execute(
            "INSERT INTO conversations (user_id, phone_number, status) VALUES (%s, '+14155550198', %s)",
            (other, pick("status", "paused")),
        )
    elif table == "agent_tasks":
        db.execute(
            "INSERT INTO agent_tasks (task_type, agent_type, status, priority) VALUES ('t', "
            "'system', %s, %s)",
            (pick("status", "pending"), pick("priority", "urgent")),
        )
    elif table == "message_queue":
        db.execute(
            "INSERT INTO message_queue (user_id, agent_id, status, priority) VALUES (%s, 'a', %s, %s)",
            (user, pick("status", "queued"), pick("priority", "low")),
        )
    elif table == "users":
        db.execute(
            "INSERT INTO users (phone_number, poc_agent_type, approval_status) VALUES (%s, %s, %s)",
            (
                pick("phone_number", "+14155550197"),
                pick("poc_agent_type", "concierge"),
                pick("approval_status", "on_hold"),
            ),
        )
    elif table == "intro_offers":
        db.execute(
            "INSERT INTO intro_offers (offering_user_id, introducee_user_id, prospect_name, "
            "context_type, status) "
            "VALUES (%s, %s, 'Jim', %s, %s)",
            (user, other, pick("context_type", "nomination"), pick("status", "confirmed")),
        )
    elif table == "community_requests":
        db.execute(
            "INSERT INTO community_requests (requesting_agent_type, question, status) VALUES "
            "('concierge', 'q', %s)",
            (pick("status", "responses_received"),),
        )
    elif table == "community_responses":
        req = db.execute(
            "INSERT INTO community_requests (requesting_agent_type, question) VALUES ('concierge', "
            "'q') RETURNING id"
        ).fetchone()["id"]
        db.execute(
            "INSERT INTO community_responses (request_id, user_id, response_text, status) VALUES "
            "(%s, %s, 'a', %s)",
            (req, other, pick("status", "closed_loop")),
        )
    elif table == "user_priorities":
        db.execute(
            "INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id, status) "
            "VALUES (%s, 1, 'intro_offer', %s, %s)",
            (user, uuid.uuid4(), pick("status", "clarifying")),
        )
    elif table == "intro_opportunities":
        db.execute(
            "INSERT INTO intro_opportunities (connector_user_id, first_name, last_name, status) "
            "VALUES (%s, 'Pat', 'Doe', %s)",
            (user, pick("status", "paused")),
        )
    elif table == "connection_requests":
        db.execute(
            "INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name, "
            "intro_context, status) VALUES (%s, %s, 'R', 'c', %s)",
            (user, other, pick("status", "expired")),
        )
    elif table == "prospects":
        db.execute(
            "INSERT INTO prospects (innovator_id, linkedin_url, status) VALUES (%s, "
            "'https://l.example/p', %s)",
            (other, pick("status", "contacted")),
        )
    elif table == "event_dead_letters":
        db.execute(
            "INSERT INTO event_dead_letters (event_type, payload, error_message, source) VALUES "
            "('e', '{}', 'x', %s)",
            (pick("source", "pubsub"),),
        )
    else:  # pragma: no cover - table list and branches are kept together
        raise AssertionError(table)


@pytest.mark.parametrize(("table", "column", "bad"), BAD_VALUES)
def test_check_constraints_reject_bad_vocabulary(db, table, column, bad):
    _insert_with(db, table, column, None)  # the same insert with good values is accepted
    with pytest.raises(errors.CheckViolation):
        _insert_with(db, table, column, bad)


def test_unique_twilio_sid_and_one_active_conversation(db):
    user = _user(db)
    conv = _conversation(db, user)
    insert = (
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, "
        "twilio_message_sid) "
        "VALUES (%s, %s, 'user', 'hi', 'inbound', 'received', %s)"
    )
    db.execute(insert, (conv, user, "SM" + "a" * 32))
    db.execute(insert, (conv, user, None))
    db.execute(insert, (conv, user, None))
    with pytest.raises(errors.UniqueViolation):
        db.execute(insert, (conv, user, "SM" + "a" * 32))
    with pytest.raises(errors.UniqueViolation):
        _conversation(db, user)
    _conversation(db, user, status="completed")


def test_task_dedupe_key_is_unique_only_while_open(db):
    insert = (
        "INSERT INTO agent_tasks (task_type, agent_type, dedupe_key, status) VALUES ('t', 'bouncer', 'k', %s)"
    )
    db.execute(insert, ("pending",))
    with pytest.raises(errors.UniqueViolation):
        db.execute(insert, ("processing",))
    db.execute("UPDATE agent_tasks SET status = 'completed'")
    db.execute(insert, ("pending",))
    db.execute(insert, ("cancelled",))


def test_verification_tokens_are_unique_random_and_defaulted(db):
    tokens = [
        db.execute(
            "INSERT INTO users (phone_number) VALUES (%s) RETURNING verification_token", (f"+1415555{n:04d}",)
        ).fetchone()["verification_token"]
        for n in range(200, 205)
    ]
    assert len(set(tokens)) == 5
    assert all(len(t) >= 32 and t.isalnum() and t == t.lower() for t in tokens)
    with pytest.raises(errors.UniqueViolation):
        db.execute(
            "INSERT INTO users (phone_number, verification_token) VALUES ('+14155550300', %s)", (tokens[0],)
        )


def test_intro_offer_needs_an_introducee_unless_a_nomination(db):
    user = _user(db)
    db.execute(
        "INSERT INTO intro_offers (offering_user_id, prospect_name, context_type, bounty_credits) "
        "VALUES (%s, 'Nominee', 'nomination', 0)",
        (user,),
    )
    with pytest.raises(errors.CheckViolation):
        db.execute(
            "INSERT INTO intro_offers (offering_user_id, prospect_name, context_type) "
            "VALUES (%s, 'Jim', 'spontaneous')",
            (user,),
        )
    row = db.execute("SELECT expires_at - created_at AS window FROM intro_offers").fetchone()
    assert row["window"].days == 14


def test_find_matching_prospects_exact_oldest_first(db):
    innovator = _user(db)
    first = db.execute(
        "INSERT INTO prospects (innovator_id, email, uploaded_at) VALUES (%s, 'Pat@Example.com', "
        "now() - interval '2 days') "
        "RETURNING id",
        (innovator,),
    ).fetchone()["id"]
    second = db.execute(
        "INSERT INTO prospects (innovator_id, linkedin_url) VALUES (%s, "
        "'https://www.linkedin.com/in/pat/') RETURNING id",
        (innovator,),
    ).fetchone()["id"]
    db.execute("INSERT INTO prospects (innovator_id, phone_number) VALUES (%s, '+14155550400')", (innovator,))
    db.execute(
        "INSERT INTO prospects (innovator_id, email, status) VALUES (%s, 'pat@example.com', 'converted')",
        (innovator,),
    )
    rows = db.execute(
        "SELECT id FROM find_matching_prospects('pat@example.com', NULL, 'https://www.linkedin.com/in/pat')"
    ).fetchall()
    assert [r["id"] for r in rows] == [first, second]
    assert (
        db.execute("SELECT count(*) AS n FROM find_matching_prospects(NULL, NULL, NULL)").fetchone()["n"] == 0
    )
    with pytest.raises(errors.CheckViolation):
        db.execute("INSERT INTO prospects (innovator_id, email) VALUES (%s, '  ')", (innovator,))


def test_updated_at_is_maintained(db):
    user = _user(db)
    db.execute("UPDATE users SET updated_at = now() - interval '1 day' WHERE id = %s", (user,))
    db.execute("UPDATE users SET first_name = 'Ada' WHERE id = %s", (user,))
    row = db.execute(
        "SELECT updated_at > now() - interval '1 minute' AS fresh FROM users WHERE id = %s", (user,)
    )
    assert row.fetchone()["fresh"] is True


# --- operational functions --------------------------------------------------------------------


def test_increment_message_budget_upserts_per_local_date(db):
    user = _user(db)
    first = db.execute("SELECT * FROM increment_message_budget(%s, '2026-11-25')", (user,)).fetchone()
    again = db.execute("SELECT * FROM increment_message_budget(%s, '2026-11-25')", (user,)).fetchone()
    other_day = db.execute("SELECT * FROM increment_message_budget(%s, '2026-11-26')", (user,)).fetchone()
    assert (first["messages_sent"], again["messages_sent"], other_day["messages_sent"]) == (1, 2, 1)
    assert first["id"] == again["id"] != other_day["id"]
    assert (again["daily_limit"], again["hourly_limit"]) == (5, 2)


def test_monitoring_counts(db):
    user = _user(db)
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, scheduled_for) VALUES "
        "('re_engagement_check', 'bouncer', now() - interval '5 minutes'), "
        "('re_engagement_check', 'bouncer', now() + interval '1 day')"
    )
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, status, lease_expires_at) "
        "VALUES ('research_solution', 'solution_saga', 'processing', now() - interval '1 minute')"
    )
    tasks = {
        (r["agent_type"], r["task_type"]): r for r in db.execute("SELECT * FROM get_pending_tasks_count()")
    }
    bouncer = tasks[("bouncer", "re_engagement_check")]
    assert (bouncer["due_count"], bouncer["future_count"], bouncer["expired_leases"]) == (1, 1, 0)
    assert tasks[("solution_saga", "research_solution")]["expired_leases"] == 1

    db.execute(
        "INSERT INTO message_queue (user_id, agent_id, priority, scheduled_for) VALUES "
        "(%s, 'a', 'low', now()), (%s, 'a', 'urgent', now()), (%s, 'a', 'urgent', now() + interval '1 day')",
        (user, user, user),
    )
    queued = db.execute("SELECT * FROM get_queued_messages_count()").fetchall()
    assert [(r["priority"], r["due_count"], r["future_count"]) for r in queued] == [
        ("urgent", 1, 1),
        ("low", 1, 0),
    ]
