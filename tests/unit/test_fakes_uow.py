"""The shared recording unit of work (``tests/fakes/uow.py``) keeps its promises."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.events import Event
from tests.fakes.uow import Call, NotScripted, RecordingUow, ScriptedRepo, UowLog, uow_factory


def _event() -> Event:
    return Event(
        event_type="probe.happened", aggregate_type=None, aggregate_id=None, payload={}, created_by="test"
    )


def test_events_are_kept_on_commit_only() -> None:
    log = UowLog()
    with RecordingUow(log) as uow:
        uow.emit(_event())
    assert (log.committed_events, log.commits, log.exits_without_commit) == ([], 0, 1)
    with RecordingUow(log) as uow:
        uow.emit(_event())
        uow.rollback()
        uow.emit(_event())
        ids = uow.commit()
    assert len(ids) == 1 and len(log.committed_events) == 1
    assert (log.entered, log.commits, log.rollbacks, log.exits_without_commit) == (2, 1, 1, 1)


def test_scripted_repo_records_calls_in_order_across_repositories() -> None:
    log = UowLog()
    seen: list[Any] = []

    def get(user_id: str) -> str:
        seen.append(user_id)
        return "row"

    users = ScriptedRepo("users", log, lock=True, get=get)
    messages = ScriptedRepo("messages", log, add=None)
    uow = RecordingUow(log, users=users, messages=messages)
    with uow:
        assert uow.users.lock("u1", scope="credits") is True  # type: ignore[attr-defined]
        uow.messages.add(body="hi")  # type: ignore[attr-defined]
        assert uow.users.get("u2") == "row"  # type: ignore[attr-defined]
    assert log.methods() == ["users.lock", "messages.add", "users.get"]
    assert log.of("users", "lock") == [Call("users", "lock", ("u1",), {"scope": "credits"})]
    assert seen == ["u2"]


def test_an_unscripted_method_fails_the_test() -> None:
    repo = ScriptedRepo("users", UowLog())
    with pytest.raises(NotScripted, match=r"users\.lock"):
        repo.lock("u1")


def test_the_factory_opens_a_new_shell_over_the_same_log() -> None:
    log = UowLog()
    make = uow_factory(log, users=ScriptedRepo("users", log, get=None))
    with make() as first:
        first.commit()
    with make():
        pass
    assert (log.entered, log.commits, log.exits_without_commit) == (2, 1, 1)
