"""Backlog reports (``shared/service_layer/backlogs.py``): the lines the stale-backlog alerts read.

Written against the module's mutmut survivors (docs/testing.md, "Mutation testing"): the backlogs
read in one unit of work and keyed by name, one ``backlog`` line per owned backlog in the order
given with ``backlog``, ``backlog_depth`` and ``backlog_oldest_age_seconds`` (rounded to a tenth),
nothing for a backlog not owned, and a failed read logged once (with its traceback) without
failing the caller's sweep. The repository is a ``ScriptedRepo`` (tests/fakes/uow.py); the SQL
is tested on Postgres (tests/integration/test_backlogs.py).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared.adapters.repositories.ops import Backlog
from shared.service_layer.backlogs import BACKLOGS, read_backlogs, report_backlogs
from tests.fakes.uow import Call, ScriptedRepo, UowLog, uow_factory

LOGGER = "shared.service_layer.backlogs"

ROWS = [
    Backlog("events", 3, 12.34),
    Backlog("agent_tasks", 0, 0.0),
    Backlog("message_queue", 7, 12.36),
    Backlog("sms_sending", 1, 0.05),
    Backlog("sms_pending", 2, 599.96),
]


def factory(log: UowLog, rows: Any = ROWS) -> Any:
    return uow_factory(log, ops=ScriptedRepo("ops", log, backlogs=rows))


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_the_backlogs_are_read_in_one_unit_of_work_and_keyed_by_name() -> None:
    log = UowLog()
    assert read_backlogs(factory(log)) == {b.name: b for b in ROWS}
    assert log.calls == [Call("ops", "backlogs", (), {})]
    assert (log.entered, log.commits) == (1, 0)


def test_the_backlogs_reported_are_the_five_the_alerts_know() -> None:
    assert BACKLOGS == ("events", "agent_tasks", "message_queue", "sms_sending", "sms_pending")


def test_each_owned_backlog_is_one_line_in_the_order_given(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    log = UowLog()
    report_backlogs(factory(log), ("message_queue", "events", "sms_sending", "sms_pending", "agent_tasks"))
    got = [
        (r.levelno, r.getMessage(), r.backlog, r.backlog_depth, r.backlog_oldest_age_seconds)  # type: ignore[attr-defined]
        for r in lines(caplog)
    ]
    assert got == [
        (logging.INFO, "backlog", "message_queue", 7, 12.4),
        (logging.INFO, "backlog", "events", 3, 12.3),
        (logging.INFO, "backlog", "sms_sending", 1, 0.1),
        (logging.INFO, "backlog", "sms_pending", 2, 600.0),
        (logging.INFO, "backlog", "agent_tasks", 0, 0.0),
    ]
    assert log.entered == 1


def test_a_backlog_not_owned_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    report_backlogs(factory(UowLog()), ["events"])
    assert [r.backlog for r in lines(caplog)] == ["events"]  # type: ignore[attr-defined]
    caplog.clear()
    report_backlogs(factory(UowLog()), [])
    assert lines(caplog) == []


def test_a_failed_read_is_logged_once_and_never_fails_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)

    def broken() -> list[Backlog]:
        raise RuntimeError("connection refused")

    report_backlogs(factory(UowLog(), broken), ["events", "agent_tasks"])
    (line,) = lines(caplog)
    assert (line.levelno, line.getMessage()) == (logging.ERROR, "could not read the backlogs")
    assert line.exc_info is not None and str(line.exc_info[1]) == "connection refused"


def test_a_unit_of_work_that_cannot_open_is_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)

    def no_database() -> Any:
        raise OSError("no database")

    report_backlogs(no_database, ["events"])
    assert [r.getMessage() for r in lines(caplog)] == ["could not read the backlogs"]
