"""Bouncer follow-ups on a controllable clock (decisions B4): 24 h, then 24 h later, then pause;
any user message resets the count and cancels pending follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import config
from shared.service_layer.bouncer import run_bouncer_turn, run_followup
from tests.bouncer_support import say
from tests.deps_support import make_deps

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

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


def fire(db: Any, task: Any, user_id: Any, clock: Any) -> Any:
    """What the sweeper + consumer do when the task is due: claim it, run it, complete it."""
    db.execute("UPDATE agent_tasks SET status = 'completed' WHERE id = %s", [task["id"]])
    return run_followup(user_id, task["id"], {"context_json": task["context_json"]}, make_deps(clock=clock))


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
