"""Bouncer follow-ups on a controllable clock (decisions B4): 24 h, then 24 h later, then pause;
any user message resets the count and cancels pending follow-ups. Follow-ups are proactive: they
go through message_queue and the orchestrator (quiet hours, budgets; issue 8 §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import config
from shared.service_layer.bouncer import run_bouncer_turn, run_followup
from tests.bouncer_support import deliver_queued, queued, say
from tests.deps_support import make_deps

pytestmark = pytest.mark.integration


class Clock:
    """Starts in 2030, after every row the database stamps with its own now(): messages written
    by the test are in the clock's past, so the orchestrator sees the member as not active."""

    def __init__(self, start: datetime = datetime(2030, 1, 15, 17, 0, tzinfo=UTC)) -> None:
        self.now = start  # 09:00 in Los Angeles (the +1415 number's zone): outside quiet hours

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(autouse=True)
def _domain(monkeypatch: Any) -> Any:
    monkeypatch.setenv("VERIFY_EMAIL_DOMAIN", "verify.example.test")
    config.reset_settings_cache()


def setup_user(db: Any) -> Any:
    user = db.execute("INSERT INTO users (phone_number) VALUES ('+14155550100') RETURNING id").fetchone()[
        "id"
    ]
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, '+14155550100') RETURNING id", [user]
    ).fetchone()["id"]
    return user, conv


def open_followups(db: Any, user_id: Any) -> Any:
    return db.execute(
        "SELECT id, scheduled_for, context_json FROM agent_tasks WHERE user_id = %s"
        " AND task_type = 're_engagement_check' AND status = 'pending' ORDER BY scheduled_for",
        [user_id],
    ).fetchall()


def fire(db: Any, task: Any, user_id: Any, clock: Any, *, deliver: bool = True) -> Any:
    """What the sweeper + consumer do when the task is due: claim it, run it, complete it; then
    the orchestrator's tick at the same moment."""
    db.execute("UPDATE agent_tasks SET status = 'completed' WHERE id = %s", [task["id"]])
    result = run_followup(user_id, task["id"], {"context_json": task["context_json"]}, make_deps(clock=clock))
    if deliver:
        deliver_queued(clock.now)
    return result


def outbound(db: Any, user_id: Any) -> Any:
    return [
        r["content"]
        for r in db.execute(
            "SELECT content FROM messages WHERE user_id = %s AND direction = 'outbound'"
            " ORDER BY created_at, sequence_position NULLS FIRST, id",
            [user_id],
        ).fetchall()
    ]


def test_two_followups_then_pause(db):
    clock = Clock()
    t0 = clock.now
    user_id, conv = setup_user(db)
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [task] = open_followups(db, user_id)
    assert task["scheduled_for"] == t0 + timedelta(hours=24)
    assert task["context_json"]["attemptCount"] == 1

    clock.advance(timedelta(hours=24))
    result = fire(db, task, user_id, clock)
    assert result["status"] == "answered"
    assert outbound(db, user_id)[-1].startswith("Should I close out this invite?")
    system = db.execute(
        "SELECT direction, status FROM messages WHERE user_id = %s AND role = 'system'", [user_id]
    ).fetchall()
    assert [(s["direction"], s["status"]) for s in system] == [("inbound", "received")]  # never sendable
    [task2] = open_followups(db, user_id)
    assert task2["scheduled_for"] == t0 + timedelta(hours=48)
    assert task2["context_json"]["attemptCount"] == 2

    clock.advance(timedelta(hours=24))
    fire(db, task2, user_id, clock)
    assert outbound(db, user_id)[-1].startswith("Still want to get verified?")
    [task3] = open_followups(db, user_id)
    assert task3["scheduled_for"] == t0 + timedelta(hours=72)

    clock.advance(timedelta(hours=24))
    sent_before = len(outbound(db, user_id))
    result = fire(db, task3, user_id, clock)
    assert result["status"] == "paused"
    assert len(outbound(db, user_id)) == sent_before  # no third message
    assert (
        db.execute("SELECT status FROM conversations WHERE id = %s", [conv]).fetchone()["status"] == "paused"
    )
    assert open_followups(db, user_id) == []


def test_a_reply_resets_the_count_and_cancels_pending_followups(db):
    clock = Clock()
    user_id, conv = setup_user(db)
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [task] = open_followups(db, user_id)
    clock.advance(timedelta(hours=24))
    fire(db, task, user_id, clock)
    [second] = open_followups(db, user_id)
    assert second["context_json"]["attemptCount"] == 2

    clock.advance(timedelta(hours=3))
    say(db, user_id, conv, "Ben Trenda")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    cancelled = db.execute("SELECT status FROM agent_tasks WHERE id = %s", [second["id"]]).fetchone()
    assert cancelled["status"] == "cancelled"
    [fresh] = open_followups(db, user_id)
    assert fresh["context_json"]["attemptCount"] == 1
    assert fresh["scheduled_for"] == clock.now + timedelta(hours=24)


def test_a_followup_that_finds_a_newer_user_message_is_skipped(db):
    clock = Clock()
    user_id, conv = setup_user(db)
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [task] = open_followups(db, user_id)
    say(db, user_id, conv, "Ben")  # not yet answered by a turn
    clock.advance(timedelta(hours=24))
    result = fire(db, task, user_id, clock)
    assert result == {"status": "skipped", "reason": "user_replied"}


def test_no_followups_after_not_interested(db):
    clock = Clock()
    user_id, conv = setup_user(db)
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    say(db, user_id, conv, "no thanks, not interested")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    assert open_followups(db, user_id) == []


def test_a_followup_due_in_quiet_hours_is_delivered_at_the_local_end_of_quiet_hours(db):
    """23:30 in New York: the follow-up waits in message_queue until 08:00 New York time."""
    clock = Clock(start=datetime(2030, 1, 15, 4, 30, tzinfo=UTC))  # 23:30 EST on 14 January
    user_id, conv = setup_user(db)
    db.execute("UPDATE users SET timezone = 'America/New_York' WHERE id = %s", [user_id])
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    replied = outbound(db, user_id)  # the direct reply went out at once (B1: a reply is exempt)
    [task] = open_followups(db, user_id)

    clock.advance(timedelta(hours=24))  # 23:30 EST on 15 January: quiet hours
    result = fire(db, task, user_id, clock)
    assert result["status"] == "answered"
    [followup] = queued(db, user_id)
    end_of_quiet = datetime(2030, 1, 16, 13, 0, tzinfo=UTC)  # 08:00 EST on 16 January
    assert (followup["status"], followup["scheduled_for"]) == ("queued", end_of_quiet)
    assert followup["final_message"].startswith("Should I close out this invite?")
    assert outbound(db, user_id) == replied  # nothing sent at 23:30

    assert deliver_queued(end_of_quiet - timedelta(minutes=1)).sent_units == 0
    assert deliver_queued(end_of_quiet).sent_units == 1
    assert outbound(db, user_id)[-1] == followup["final_message"]
    [sent] = queued(db, user_id)
    assert (sent["status"], sent["sent_at"]) == ("sent", end_of_quiet)
    budgeted = db.execute(
        "SELECT count(*) AS n FROM agent_actions_log WHERE user_id = %s"
        " AND action_type = 'proactive_send_budgeted'",
        [user_id],
    ).fetchone()
    assert budgeted["n"] == 1  # a follow-up counts against the daily and hourly budget


def test_a_reply_answered_while_followup_1_is_processing_still_schedules_a_followup(db):
    """The race: follow-up #1 is claimed (processing) when the user replies. The reply's turn must
    schedule a new follow-up #1 (its dedupe key used to collide with the running task's), and the
    running task must stand down (the user wrote after it was scheduled)."""
    clock = Clock()
    user_id, conv = setup_user(db)
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [task] = open_followups(db, user_id)
    db.execute(
        "UPDATE agent_tasks SET status = 'processing', claim_token = gen_random_uuid(),"
        " lease_expires_at = now() + interval '10 minutes' WHERE id = %s",
        [task["id"]],
    )  # the sweeper has claimed follow-up #1

    clock.advance(timedelta(hours=24))
    say(db, user_id, conv, "Ben Trenda")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [fresh] = open_followups(db, user_id)
    assert fresh["id"] != task["id"] and fresh["context_json"]["attemptCount"] == 1
    assert fresh["scheduled_for"] == clock.now + timedelta(hours=24)

    sent = outbound(db, user_id)
    result = run_followup(user_id, task["id"], {"context_json": task["context_json"]}, make_deps(clock=clock))
    assert result == {"status": "skipped", "reason": "user_replied"}
    assert [t["id"] for t in open_followups(db, user_id)] == [fresh["id"]]
    assert outbound(db, user_id) == sent and queued(db, user_id) == []


def test_a_reply_supersedes_a_queued_followup(db):
    """A follow-up waiting in the queue (quiet hours) is superseded when the user writes."""
    clock = Clock(start=datetime(2030, 1, 15, 4, 30, tzinfo=UTC))
    user_id, conv = setup_user(db)
    db.execute("UPDATE users SET timezone = 'America/New_York' WHERE id = %s", [user_id])
    say(db, user_id, conv, "hey")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [task] = open_followups(db, user_id)
    clock.advance(timedelta(hours=24))
    fire(db, task, user_id, clock)
    [followup] = queued(db, user_id)
    assert followup["status"] == "queued"

    say(db, user_id, conv, "Ben Trenda")
    run_bouncer_turn(user_id, make_deps(clock=clock))
    [stale] = queued(db, user_id)
    assert (stale["status"], stale["superseded_reason"]) == ("superseded", "user_replied")
    assert deliver_queued(datetime(2030, 1, 16, 13, 0, tzinfo=UTC)).sent_units == 0
