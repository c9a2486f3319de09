"""The orchestrator on real Postgres: delivery, atomic budget, superseding, opt-out, races, queueing."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest

from shared.adapters.postgres import Connection
from shared.adapters.queue_messages import (
    InvalidQueuedMessage,
    QueuedMessage,
    cancel_queued_message,
    queue_message,
)
from shared.adapters.repositories import BudgetRepository
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import MAX_SEQUENCE_PARTS
from shared.service_layer.freshness import AssumeRelevantClassifier, Freshness, NewerMessage, QueuedForCheck
from shared.service_layer.orchestrate import run_tick

ASSUME_RELEVANT = AssumeRelevantClassifier()

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # 12:00 in New York


def add_user(
    db: Connection,
    phone: str,
    *,
    tz: str | None = "America/New_York",
    opted_out: bool = False,
    response_pattern: dict[str, Any] | None = None,
    quiet: tuple[time, time] | None = None,
) -> UUID:
    row = db.execute(
        "INSERT INTO users (phone_number, timezone, opted_out, verified, poc_agent_type, response_pattern,"
        " quiet_hours_start, quiet_hours_end)"
        " VALUES (%s, %s, %s, true, 'concierge', %s, %s, %s) RETURNING id",
        (
            phone,
            tz,
            opted_out,
            json.dumps(response_pattern) if response_pattern is not None else None,
            quiet[0] if quiet else None,
            quiet[1] if quiet else None,
        ),
    ).fetchone()
    assert row is not None
    uid = UUID(str(row["id"]))
    db.execute(
        "INSERT INTO conversations (user_id, phone_number, status) VALUES (%s, %s, 'active')", (uid, phone)
    )
    return uid


def add_inbound(db: Connection, uid: UUID, text: str, at: datetime) -> None:
    db.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, direction, status, created_at)"
        " SELECT id, user_id, 'user', %s, 'inbound', 'received', %s FROM conversations"
        " WHERE user_id = %s AND status = 'active'",
        (text, at, uid),
    )


def add_queued(
    db: Connection,
    uid: UUID,
    text: str | None,
    *,
    due: datetime = NOW,
    priority: str = "medium",
    fresh: bool = False,
    created: datetime | None = None,
    sequence: tuple[UUID, int, int] | None = None,
    agent_id: str = "concierge_1",
) -> UUID:
    seq_id, pos, total = sequence if sequence else (None, None, None)
    row = db.execute(
        "INSERT INTO message_queue (user_id, agent_id, message_data, final_message, scheduled_for, priority,"
        " requires_fresh_context, created_at, sequence_id, sequence_position, sequence_total)"
        " VALUES (%s, %s, '{}', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (uid, agent_id, text, due, priority, fresh, created or due - timedelta(hours=1), seq_id, pos, total),
    ).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def queue_row(db: Connection, qid: UUID) -> dict[str, Any]:
    row = db.execute("SELECT * FROM message_queue WHERE id = %s", (qid,)).fetchone()
    assert row is not None
    return row


def outbound(db: Connection, uid: UUID) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT * FROM messages WHERE user_id = %s AND direction = 'outbound'"
        " ORDER BY created_at, sequence_position",
        (uid,),
    ).fetchall()


def test_tick_delivers_due_rows_as_pending_outbound_messages_and_counts_the_budget(db: Connection) -> None:
    uid = add_user(db, "+14155550101")
    qid = add_queued(db, uid, "Your intro with Sarah is confirmed.")
    later = add_queued(db, uid, "Not yet", due=NOW + timedelta(hours=3))

    report = run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)

    assert report.sent_units == 1
    (message,) = outbound(db, uid)
    assert (message["status"], message["role"], message["content"]) == (
        "pending",
        "concierge",
        "Your intro with Sarah is confirmed.",
    )
    assert message["message_queue_id"] == qid
    row = queue_row(db, qid)
    assert (row["status"], row["sent_at"], row["delivered_message_id"]) == ("sent", NOW, message["id"])
    budget = db.execute("SELECT * FROM user_message_budget WHERE user_id = %s", (uid,)).fetchall()
    assert [(b["date"], b["messages_sent"], b["last_message_at"]) for b in budget] == [
        (date(2026, 1, 15), 1, NOW)
    ]
    assert queue_row(db, later)["status"] == "queued"
    # A second tick at the same moment sends nothing again.
    assert run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT).sent_units == 0
    assert len(outbound(db, uid)) == 1


class FailingBudgets(BudgetRepository):
    def count_send(self, *args: Any, **kwargs: Any) -> int:
        raise RuntimeError("budget write failed")


class FailingBudgetUnitOfWork(PostgresUnitOfWork):
    """Dies while counting the budget: the messages and queue updates must roll back with it."""

    def __enter__(self) -> FailingBudgetUnitOfWork:
        super().__enter__()
        self.budgets = FailingBudgets(self.sql)
        return self


def test_budget_outbound_message_and_queue_row_commit_together(db: Connection) -> None:
    uid = add_user(db, "+14155550102")
    qid = add_queued(db, uid, "hello")
    report = run_tick(FailingBudgetUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
    assert report.errors == 1
    assert outbound(db, uid) == []
    assert queue_row(db, qid)["status"] == "queued"
    assert db.execute("SELECT count(*) AS n FROM user_message_budget").fetchone() == {"n": 0}
    run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
    assert queue_row(db, qid)["status"] == "sent"


def test_budget_and_quiet_hours_defer_rows_in_the_database(db: Connection) -> None:
    uid = add_user(db, "+14155550103")
    db.execute(
        "INSERT INTO user_message_budget (user_id, date, messages_sent, daily_limit, hourly_limit)"
        " VALUES (%s, '2026-01-01', 0, 2, 5)",
        (uid,),
    )
    ids = [add_queued(db, uid, f"m{i}", priority=p) for i, p in enumerate(["low", "urgent", "high"])]
    run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
    # The per-user daily override (2) is carried forward from the older row.
    assert [queue_row(db, i)["status"] for i in ids] == ["queued", "sent", "sent"]
    # Deferred to 00:00 local on the 16th -> quiet -> 08:00 EST = 13:00 UTC.
    assert queue_row(db, ids[0])["scheduled_for"] == datetime(2026, 1, 16, 13, 0, tzinfo=UTC)
    today = db.execute(
        "SELECT messages_sent, daily_limit FROM user_message_budget"
        " WHERE user_id = %s AND date = '2026-01-15'",
        (uid,),
    ).fetchone()
    assert today == {"messages_sent": 2, "daily_limit": 2}


class StaleClassifier:
    def classify(self, queued: QueuedForCheck, newer: Sequence[NewerMessage]) -> Freshness:
        return Freshness(relevant=False, reason="user changed topic: " + newer[-1].content)


def test_stale_row_is_superseded(db: Connection) -> None:
    uid = add_user(db, "+14155550104")
    qid = add_queued(db, uid, "About that hiring question…", fresh=True, created=NOW - timedelta(hours=2))
    keep = add_queued(db, uid, "Unrelated update", created=NOW - timedelta(hours=2))
    add_inbound(db, uid, "never mind, found someone", NOW - timedelta(hours=1))
    report = run_tick(PostgresUnitOfWork, now=NOW, classifier=StaleClassifier())
    assert report.superseded_units == 1
    row = queue_row(db, qid)
    assert (row["status"], row["superseded_reason"]) == (
        "superseded",
        "user changed topic: never mind, found someone",
    )
    assert queue_row(db, keep)["status"] == "sent"
    assert [m["content"] for m in outbound(db, uid)] == ["Unrelated update"]


def test_opted_out_user_rows_are_cancelled(db: Connection) -> None:
    uid = add_user(db, "+14155550105", opted_out=True)
    qid = add_queued(db, uid, "hello")
    run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
    row = queue_row(db, qid)
    assert (row["status"], row["superseded_reason"]) == ("cancelled", "user opted out")
    assert outbound(db, uid) == []


def test_sends_to_an_active_user_do_not_use_up_the_rolling_hour(db: Connection) -> None:
    uid = add_user(db, "+14155550110")
    db.execute(
        "INSERT INTO user_message_budget (user_id, date, messages_sent, daily_limit, hourly_limit)"
        " VALUES (%s, '2026-01-01', 0, 5, 1)",
        (uid,),
    )
    add_inbound(db, uid, "quick question", NOW - timedelta(minutes=2))
    exempt = [add_queued(db, uid, f"answer {i}") for i in range(2)]
    run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
    assert [queue_row(db, i)["status"] for i in exempt] == ["sent", "sent"]

    # Twenty minutes later the user is no longer active: the hourly limit (1) still has room,
    # because the two replies above were not budgeted; the first budgeted send then fills it.
    later = NOW + timedelta(minutes=20)
    budgeted = [add_queued(db, uid, f"update {p}", due=later, priority=p) for p in ("high", "low")]
    run_tick(PostgresUnitOfWork, now=later, classifier=ASSUME_RELEVANT)
    assert [queue_row(db, i)["status"] for i in budgeted] == ["sent", "queued"]
    assert queue_row(db, budgeted[1])["scheduled_for"] == later + timedelta(hours=1)
    today = db.execute(
        "SELECT messages_sent FROM user_message_budget WHERE user_id = %s AND date = '2026-01-15'", (uid,)
    ).fetchone()
    assert today == {"messages_sent": 1}


def test_sequence_is_delivered_whole_as_one_outbound_sequence(db: Connection) -> None:
    uid = add_user(db, "+14155550106")
    seq = UUID(int=42)
    ids = [add_queued(db, uid, f"part {p}", sequence=(seq, p, 3)) for p in (2, 3, 1)]
    run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
    messages = outbound(db, uid)
    assert [m["content"] for m in messages] == ["part 1", "part 2", "part 3"]
    assert len({m["sequence_id"] for m in messages}) == 1
    by_position = {queue_row(db, i)["sequence_position"]: queue_row(db, i) for i in ids}
    assert [by_position[p]["delivered_message_id"] for p in (1, 2, 3)] == [m["id"] for m in messages]
    assert db.execute("SELECT messages_sent FROM user_message_budget").fetchone() == {"messages_sent": 1}


def test_concurrent_ticks_never_deliver_a_row_twice(db: Connection) -> None:
    users = [add_user(db, f"+1415555020{i}") for i in range(6)]
    for uid in users:
        for i in range(4):
            add_queued(db, uid, f"m{i}", priority=("urgent", "high", "medium", "low")[i])
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def tick() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    per_row = db.execute(
        "SELECT message_queue_id, count(*) AS n FROM messages WHERE direction = 'outbound'"
        " GROUP BY message_queue_id"
    ).fetchall()
    assert per_row and all(r["n"] == 1 for r in per_row)
    # Each user got exactly the hourly limit (2), the urgent and the high one, never more.
    for uid in users:
        assert sorted(m["content"] for m in outbound(db, uid)) == ["m0", "m1"]
        assert db.execute(
            "SELECT messages_sent FROM user_message_budget WHERE user_id = %s", (uid,)
        ).fetchone() == {"messages_sent": 2}
    ledger = db.execute(
        "SELECT count(*) AS n FROM agent_actions_log WHERE action_type = 'proactive_send_budgeted'"
    ).fetchone()
    assert ledger == {"n": 12}


def queued(**kwargs: Any) -> QueuedMessage:
    with PostgresUnitOfWork() as uow:
        message = queue_message(uow, **kwargs)
        uow.commit()
    return message


def test_queue_message_schedules_in_the_users_zone(db: Connection) -> None:
    uid = add_user(db, "+14155550107", response_pattern={"best_hours": [14, 19]})
    plain = add_user(db, "+14155550108", tz="Asia/Kolkata")
    at_14_ny = datetime(2026, 1, 15, 19, 0, tzinfo=UTC)
    assert queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["hi"]).scheduled_for == at_14_ny
    urgent = queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["now"], priority="urgent")
    assert urgent.scheduled_for == NOW
    fixed = queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["now"], can_delay=False)
    assert fixed.scheduled_for == NOW
    # agents.md §1's lanes: high takes the next available slot, medium and low the best send time.
    # Found on the local stack: an innovator's intro contacts (high, can_delay left at its default)
    # waited for 10:00 local the next day; so did a Saga's finished research with options.
    high = queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["you're connected"], priority="high")
    assert high.scheduled_for == NOW
    low = queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["a tip"], priority="low")
    assert low.scheduled_for == at_14_ny
    # Kolkata: 22:30 IST now -> 10:00 IST tomorrow = 04:30 UTC.
    kolkata = queued(user_id=plain, agent_id="account_manager_1", now=NOW, message_data={"content": "x"})
    assert kolkata.scheduled_for == datetime(2026, 1, 16, 4, 30, tzinfo=UTC)
    add_inbound(db, uid, "hey", NOW - timedelta(minutes=3))
    active = queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["reply-ish"])
    assert active.scheduled_for == NOW


def test_queue_message_sequence_rows_and_cancellation(db: Connection) -> None:
    uid = add_user(db, "+14155550109")
    sequence = queued(user_id=uid, agent_id="concierge_1", now=NOW, parts=["a", "b", "c"], can_delay=False)
    rows = [queue_row(db, i) for i in sequence.ids]
    assert [(r["sequence_position"], r["sequence_total"], r["final_message"]) for r in rows] == [
        (1, 3, "a"),
        (2, 3, "b"),
        (3, 3, "c"),
    ]
    assert {r["sequence_id"] for r in rows} == {sequence.sequence_id}
    with PostgresUnitOfWork() as uow:
        assert cancel_queued_message(uow, user_id=uid, queue_id=sequence.ids[1], reason="user asked") == 3
        uow.commit()
    assert {queue_row(db, i)["status"] for i in sequence.ids} == {"cancelled"}
    assert run_tick(PostgresUnitOfWork, now=NOW, classifier=ASSUME_RELEVANT).sent_units == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"parts": ["x"] * (MAX_SEQUENCE_PARTS + 1)},
        {"parts": ["x"], "priority": "critical"},
        {"parts": ["x", "  "]},
        {},
        {"parts": ["x"], "agent_id": " "},
    ],
)
def test_queue_message_refuses_bad_requests_and_writes_nothing(
    db: Connection, kwargs: dict[str, Any]
) -> None:
    uid = add_user(db, "+14155550110")
    args: dict[str, Any] = {"user_id": uid, "agent_id": "concierge_1", "now": NOW, **kwargs}
    with pytest.raises(InvalidQueuedMessage):
        queued(**args)
    assert db.execute("SELECT count(*) AS n FROM message_queue").fetchone() == {"n": 0}
