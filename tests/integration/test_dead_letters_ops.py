"""The operator CLI (tools/ops.py) against a real database."""

from typing import Any

import pytest
from typer.testing import CliRunner

from shared.adapters.pubsub import FakePublisher
from shared.service_layer.dispatch_events import dispatch_events
from tests.backbone_support import add_event, add_task, dead_letters, make_user
from tools.ops import app

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rich sizes tables to the terminal; under xdist there is none. Ids must print whole.
    from rich.console import Console

    from tools import ops

    monkeypatch.setattr(ops, "console", Console(width=250))


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_status_shows_backlogs_and_dead_letters(db):
    user = make_user(db)
    add_event(db, "message.received", user)
    add_event(db, "no.such_event", None)
    add_task(db)
    add_task(db, due_offset="1 hour")
    db.execute(
        "UPDATE events SET created_at = now() - interval '2 hours', "
        "next_attempt_at = now() - interval '2 hours'"
    )
    out = _run("status")
    assert out.exit_code == 0, out.output
    assert "events unprocessed" in out.output
    assert "2:00:" in out.output  # the oldest is two hours old
    dispatch_events(FakePublisher())
    out = _run("status")
    assert "dead letters (not replayed)" in out.output
    assert "dispatcher 1" in out.output
    assert "pending 2" in out.output


def test_list_and_replay_one_then_all(db):
    add_event(db, "no.such_event", None)
    add_event(db, "no.such_event_either", None)
    dispatch_events(FakePublisher())
    first, second = dead_letters(db)

    listed = _run("dead-letters", "list")
    assert listed.exit_code == 0
    assert str(first["id"]) in listed.output and str(second["id"]) in listed.output

    one = _run("dead-letters", "replay", str(first["id"]))
    assert one.exit_code == 0, one.output
    assert "event_reinserted" in one.output
    again = _run("dead-letters", "replay", str(first["id"]))
    assert again.exit_code == 1 and "already replayed" in again.output

    rest = _run("dead-letters", "replay", "--all")
    assert rest.exit_code == 0
    assert "1 replayed, 0 skipped" in rest.output
    assert db.execute("SELECT count(*) AS n FROM events WHERE NOT processed").fetchone()["n"] == 2
    assert str(first["id"]) not in _run("dead-letters", "list").output
    assert str(first["id"]) in _run("dead-letters", "list", "--all").output


def test_replay_needs_exactly_one_target(db):
    assert _run("dead-letters", "replay").exit_code == 2
    assert _run("dead-letters", "replay", "not-a-uuid").exit_code == 2
