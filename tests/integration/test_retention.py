"""Retention (issue 15 §4, platform §6.6) on a controllable clock: rows are written now, and the
job runs as of a later ``now``; what each rule may remove goes, everything it must keep stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared import config
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import (
    ACTION_LOG_RETENTION,
    COMPLETED_TASK_RETENTION,
    EVENT_RETENTION,
    MESSAGE_RETENTION,
    PROCESSED_DELIVERY_RETENTION,
)
from shared.service_layer.retention import parse_retention_job, run_retention
from tests.backbone_support import add_event, add_task, make_user

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def count(db: Any, sql: str, *args: Any) -> int:
    return int(db.execute(sql, args).fetchone()["n"])


def exists(db: Any, table: str, row_id: UUID) -> bool:
    return count(db, f"SELECT count(*) AS n FROM {table} WHERE id = %s", row_id) == 1


def archived(db: Any, table: str, row_id: UUID) -> Any:
    return db.execute(
        "SELECT * FROM retention_archive WHERE source_table = %s AND row_id = %s", (table, row_id)
    ).fetchone()


def processed_event(db: Any, user_id: UUID) -> UUID:
    event_id = add_event(db, "message.received", user_id, {"n": 1})
    db.execute("UPDATE events SET processed = true, processed_at = now() WHERE id = %s", (event_id,))
    return event_id


def finished_task(db: Any, status: str) -> UUID:
    task_id = add_task(db)
    db.execute("UPDATE agent_tasks SET status = %s, completed_at = now() WHERE id = %s", (status, task_id))
    return task_id


def dead_letter(db: Any, event_id: UUID, *, replayed: bool) -> UUID:
    row = db.execute(
        "INSERT INTO event_dead_letters (event_id, event_type, payload, error_message, source, replayed_at)"
        " VALUES (%s, 'message.received', '{}'::jsonb, 'boom', 'consumer', CASE WHEN %s THEN now() END)"
        " RETURNING id",
        (event_id, replayed),
    ).fetchone()
    return UUID(str(row["id"]))


def action(db: Any, user_id: UUID) -> UUID:
    row = db.execute(
        "INSERT INTO agent_actions_log (agent_type, action_type, user_id) VALUES ('bouncer', 'llm_call', %s)"
        " RETURNING id",
        (user_id,),
    ).fetchone()
    return UUID(str(row["id"]))


def message(db: Any, user_id: UUID, *, direction: str = "inbound", status: str = "received") -> UUID:
    conversation = db.execute("SELECT id FROM conversations WHERE user_id = %s", (user_id,)).fetchone()
    row = db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status)"
        " VALUES (%s, %s, %s, 'hi', %s, %s) RETURNING id",
        (conversation["id"], user_id, "user" if direction == "inbound" else "bouncer", direction, status),
    ).fetchone()
    return UUID(str(row["id"]))


def mark(db: Any, key: str) -> None:
    db.execute(
        "INSERT INTO processed_deliveries (consumer, delivery_key, kind)"
        " VALUES ('agent_bouncer', %s, 'event')",
        (key,),
    )


def test_events_tasks_and_dead_letters_go_after_their_periods_and_what_must_stay_stays(db):
    user_id = make_user(db)
    done = processed_event(db, user_id)
    unprocessed = add_event(db, "message.received", user_id)
    named_by_dead_letter = processed_event(db, user_id)
    unreplayed = dead_letter(db, named_by_dead_letter, replayed=False)
    replayed = dead_letter(db, done, replayed=True)
    completed, failed = finished_task(db, "completed"), finished_task(db, "failed")
    pending = add_task(db)
    failed_with_letter = finished_task(db, "failed")
    dead_letter(db, failed_with_letter, replayed=False)
    now = datetime.now(UTC)

    # One day before the task period ends: nothing goes.
    early = run_retention(PostgresUnitOfWork, now=now + COMPLETED_TASK_RETENTION - DAY)
    assert sum(early.removed.values()) == 0
    assert early.complete

    after_tasks = run_retention(PostgresUnitOfWork, now=now + COMPLETED_TASK_RETENTION + DAY)
    assert after_tasks.removed["agent_tasks"] == 2
    assert after_tasks.removed["events"] == 0
    assert not exists(db, "agent_tasks", completed) and not exists(db, "agent_tasks", failed)
    assert archived(db, "agent_tasks", completed)["row_data"]["status"] == "completed"
    assert exists(db, "agent_tasks", pending)
    assert exists(db, "agent_tasks", failed_with_letter)  # its dead letter may still requeue it

    late = run_retention(PostgresUnitOfWork, now=now + EVENT_RETENTION + DAY)
    assert late.removed["events"] == 1
    assert late.removed["event_dead_letters"] == 1
    assert not exists(db, "events", done)
    assert archived(db, "events", done)["row_data"]["payload"] == {"n": 1}
    assert not exists(db, "event_dead_letters", replayed)
    assert archived(db, "event_dead_letters", replayed) is not None
    assert exists(db, "events", unprocessed)  # never an unprocessed event
    assert exists(db, "events", named_by_dead_letter)
    assert exists(db, "event_dead_letters", unreplayed)  # never an unreplayed dead letter

    # Even years later, an unprocessed event, a pending task and an unreplayed dead letter stay.
    run_retention(PostgresUnitOfWork, now=now + 10 * MESSAGE_RETENTION)
    assert exists(db, "events", unprocessed)
    assert exists(db, "agent_tasks", pending)
    assert exists(db, "event_dead_letters", unreplayed)


def test_marks_action_log_and_message_history(db):
    user_id = make_user(db)
    mark(db, "event:old")
    log_row = action(db, user_id)
    inbound = message(db, user_id)
    unsent = message(db, user_id, direction="outbound", status="pending")
    delivered = message(db, user_id, direction="outbound", status="delivered")
    now = datetime.now(UTC)

    report = run_retention(PostgresUnitOfWork, now=now + PROCESSED_DELIVERY_RETENTION - DAY)
    assert report.removed["processed_deliveries"] == 0
    report = run_retention(PostgresUnitOfWork, now=now + PROCESSED_DELIVERY_RETENTION + DAY)
    assert report.removed["processed_deliveries"] == 1
    assert report.removed["messages"] == 0

    report = run_retention(PostgresUnitOfWork, now=now + ACTION_LOG_RETENTION + DAY)
    assert report.removed["agent_actions_log"] == 1
    assert report.removed["messages"] == 2
    assert archived(db, "agent_actions_log", log_row)["row_data"]["action_type"] == "llm_call"
    assert not exists(db, "messages", inbound) and not exists(db, "messages", delivered)
    assert exists(db, "messages", unsent)  # an outbound row still to send is never purged


def test_message_and_action_log_periods_are_configurable(db, monkeypatch):
    monkeypatch.setenv("RETENTION_MESSAGE_DAYS", "30")
    monkeypatch.setenv("RETENTION_ACTION_LOG_DAYS", "60")
    config.reset_settings_cache()
    user_id = make_user(db)
    inbound = message(db, user_id)
    log_row = action(db, user_id)
    now = datetime.now(UTC)
    report = run_retention(PostgresUnitOfWork, now=now + 31 * DAY)
    assert report.removed["messages"] == 1 and report.removed["agent_actions_log"] == 0
    assert not exists(db, "messages", inbound)
    report = run_retention(PostgresUnitOfWork, now=now + 61 * DAY)
    assert report.removed["agent_actions_log"] == 1
    assert not exists(db, "agent_actions_log", log_row)


def test_bad_configuration_is_refused(monkeypatch):
    monkeypatch.setenv("RETENTION_MESSAGE_DAYS", "0")
    config.reset_settings_cache()
    with pytest.raises(ValueError, match="retention_message_days"):
        config.get_settings()


def test_small_batches_and_a_batch_cap_leave_the_rest_for_the_next_run(db):
    user_id = make_user(db)
    events = [processed_event(db, user_id) for _ in range(5)]
    later = datetime.now(UTC) + EVENT_RETENTION + DAY
    capped = run_retention(PostgresUnitOfWork, now=later, batch=2, max_batches=2)
    assert capped.removed["events"] == 4
    assert not capped.complete
    rest = run_retention(PostgresUnitOfWork, now=later, batch=2, max_batches=2)
    assert rest.removed["events"] == 1
    assert rest.complete
    assert count(db, "SELECT count(*) AS n FROM retention_archive WHERE source_table = 'events'") == 5
    assert not any(exists(db, "events", e) for e in events)


def test_a_locked_row_is_skipped_not_waited_for_in_every_table(db, database_url):
    import psycopg

    user_id = make_user(db)
    pairs = {
        "events": (processed_event(db, user_id), processed_event(db, user_id)),
        "agent_tasks": (finished_task(db, "completed"), finished_task(db, "completed")),
        "agent_actions_log": (action(db, user_id), action(db, user_id)),
        "messages": (message(db, user_id), message(db, user_id)),
    }
    event_id = processed_event(db, user_id)
    pairs["event_dead_letters"] = (
        dead_letter(db, event_id, replayed=True),
        dead_letter(db, event_id, replayed=True),
    )
    mark(db, "event:busy")
    mark(db, "event:free")
    with psycopg.connect(database_url) as holder:
        holder.execute("SET lock_timeout = '5s'")
        for table, (busy, _free) in pairs.items():
            holder.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", (busy,))
        holder.execute("SELECT 1 FROM processed_deliveries WHERE delivery_key = 'event:busy' FOR UPDATE")
        report = run_retention(PostgresUnitOfWork, now=datetime.now(UTC) + 10 * MESSAGE_RETENTION)
        holder.rollback()
    for table, (busy, free) in pairs.items():
        assert exists(db, table, busy), f"{table}: the locked row was taken"
        assert not exists(db, table, free), f"{table}: the free row stayed"
    marks = [
        r["delivery_key"] for r in db.execute("SELECT delivery_key FROM processed_deliveries").fetchall()
    ]
    assert marks == ["event:busy"]
    assert report.removed["processed_deliveries"] == 1


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (b"", True),
        (b"{}", True),
        (b'{"job": "retention"}', True),
        (b'{"sweep": true}', True),
        (b'{"job": "other"}', False),
        (b"[1]", False),
        (b"\xff", False),
        (b"{", False),
    ],
)
def test_parse_retention_job(body, ok):
    if ok:
        assert parse_retention_job(body) == "retention"
    else:
        with pytest.raises(ValueError):
            parse_retention_job(body)
