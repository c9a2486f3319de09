"""The operator CLI (tools/ops/cli.py) against a real database."""

import pytest

from shared.service_layer.dispatch_events import dispatch_events
from tests.backbone_support import add_event, add_task, dead_letters, make_user
from tests.fakes.pubsub import FakePublisher

pytestmark = pytest.mark.integration


def test_status_shows_backlogs_and_dead_letters(db, ops_cli):
    user = make_user(db)
    add_event(db, "message.received", user)
    add_event(db, "no.such_event", None)
    add_task(db)
    add_task(db, due_offset="1 hour")
    db.execute(
        "UPDATE events SET created_at = now() - interval '2 hours', "
        "next_attempt_at = now() - interval '2 hours'"
    )
    out = ops_cli("status")
    assert out.exit_code == 0, out.output
    assert "events unprocessed" in out.output
    assert "2:00:" in out.output  # the oldest is two hours old
    dispatch_events(FakePublisher())
    out = ops_cli("status")
    assert "dead letters (not replayed)" in out.output
    assert "dispatcher 1" in out.output
    assert "pending 2" in out.output


def test_list_and_replay_one_then_all(db, ops_cli):
    add_event(db, "no.such_event", None)
    add_event(db, "no.such_event_either", None)
    dispatch_events(FakePublisher())
    first, second = dead_letters(db)

    listed = ops_cli("dead-letters", "list")
    assert listed.exit_code == 0
    assert str(first["id"]) in listed.output and str(second["id"]) in listed.output

    one = ops_cli("dead-letters", "replay", str(first["id"]))
    assert one.exit_code == 0, one.output
    assert "event_reinserted" in one.output
    again = ops_cli("dead-letters", "replay", str(first["id"]))
    assert again.exit_code == 1 and "already replayed" in again.output

    rest = ops_cli("dead-letters", "replay", "--all")
    assert rest.exit_code == 0
    assert "1 replayed, 0 skipped" in rest.output
    assert db.execute("SELECT count(*) AS n FROM events WHERE NOT processed").fetchone()["n"] == 2
    assert str(first["id"]) not in ops_cli("dead-letters", "list").output
    assert str(first["id"]) in ops_cli("dead-letters", "list", "--all").output


def test_replay_needs_exactly_one_target(db, ops_cli):
    assert ops_cli("dead-letters", "replay").exit_code == 2
    assert ops_cli("dead-letters", "replay", "not-a-uuid").exit_code == 2
