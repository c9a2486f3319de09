"""Backlog reports: depth and the oldest waiting item's age, as the alerts read them."""

from __future__ import annotations

import logging

import pytest

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.backlogs import BACKLOGS, read_backlogs, report_backlogs
from tests.sms_support import add_outbound, make_user

pytestmark = pytest.mark.integration


def test_empty_backlogs_report_zero_depth_and_age(db):
    backlogs = read_backlogs(PostgresUnitOfWork)
    assert set(backlogs) == set(BACKLOGS)
    assert all(b.depth == 0 and b.oldest_age_seconds == 0 for b in backlogs.values())


def test_waiting_items_are_counted_with_the_oldest_age(db):
    user_id, conversation_id = make_user(db)
    add_outbound(user_id, conversation_id, ["one", "two"])
    db.execute("UPDATE messages SET created_at = now() - interval '10 minutes' WHERE direction = 'outbound'")
    db.execute(
        "UPDATE messages SET status = 'sending' WHERE id = (SELECT id FROM messages"
        " WHERE direction = 'outbound' ORDER BY created_at LIMIT 1)"
    )
    backlogs = read_backlogs(PostgresUnitOfWork)
    assert backlogs["sms_pending"].depth == 1 and backlogs["sms_sending"].depth == 1
    assert 590 <= backlogs["sms_sending"].oldest_age_seconds <= 700


def test_each_owned_backlog_is_one_log_line_with_the_alert_fields(db, caplog):
    caplog.set_level(logging.INFO, logger="shared.service_layer.backlogs")
    report_backlogs(PostgresUnitOfWork, ("events", "agent_tasks"))
    lines = [r for r in caplog.records if r.getMessage() == "backlog"]
    assert [getattr(r, "backlog", None) for r in lines] == ["events", "agent_tasks"]
    for line in lines:
        assert isinstance(line.backlog_depth, int)
        assert isinstance(line.backlog_oldest_age_seconds, float)
