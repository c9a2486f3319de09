"""The ops CLI for credits and community health, on real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer import community_ops

pytestmark = pytest.mark.integration

PHONE = "+14155550188"


@pytest.fixture
def cli(ops_cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from tools.ops import community as ops_community

    monkeypatch.setattr(ops_community, "console", Console(width=250))
    return ops_cli


@pytest.fixture
def member(db: Any) -> Any:
    return db.execute(
        "INSERT INTO users (phone_number, first_name, last_name) VALUES (%s, 'Dana', 'Kim') RETURNING id",
        (PHONE,),
    ).fetchone()["id"]


def test_grant_revoke_and_show(cli: Any, db: Any, member: Any) -> None:
    granted = cli("credits", "grant", PHONE, "30", "--reason", "beta tester", "--operator", "ana")
    assert granted.exit_code == 0, granted.output
    assert (
        cli("credits", "revoke", PHONE, "10", "--reason", "granted twice", "--operator", "ana").exit_code == 0
    )
    refused = cli("credits", "revoke", PHONE, "50", "--reason", "too much", "--operator", "ana")
    assert refused.exit_code == 1 and "cannot spend 50" in refused.output
    shown = cli("credits", PHONE)
    assert shown.exit_code == 0, shown.output
    assert "balance 20, cached 20" in shown.output
    assert "operator:ana" in shown.output and "beta tester" in shown.output
    rows = list(
        db.execute("SELECT event_type, amount, recorded_by, description FROM credit_events ORDER BY amount")
    )
    assert [(r["event_type"], r["amount"]) for r in rows] == [
        ("operator_revoke", -10),
        ("operator_grant", 30),
    ]
    assert cli("credits", "+14155550999").exit_code == 1


def test_status_shows_the_ledger_check(cli: Any, db: Any, member: Any) -> None:
    cli("credits", "grant", PHONE, "5", "--reason", "r", "--operator", "ana")
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert "credit ledger vs cache" in result.output and "consistent" in result.output
    db.execute("UPDATE users SET credit_balance = 7 WHERE id = %s", (member,))
    assert "1 member(s) differ" in cli("status").output


def test_community_report(cli: Any, db: Any, member: Any) -> None:
    # Yesterday at 14:00 UTC: the rows below (up to 2 h earlier) share one UTC day at any time of day.
    now = datetime.now(UTC).replace(hour=14, minute=0, second=0, microsecond=0) - timedelta(days=1)
    request_id = db.execute(
        "INSERT INTO community_requests (requesting_agent_type, question, category, created_at,"
        " responses_count) VALUES ('concierge', 'q', 'hr', %s, 1) RETURNING id",
        (now - timedelta(hours=2),),
    ).fetchone()["id"]
    db.execute(
        "INSERT INTO community_requests (requesting_agent_type, question, category, created_at)"
        " VALUES ('concierge', 'q2', 'hr', %s)",
        (now - timedelta(hours=1),),
    )
    db.execute(
        "INSERT INTO community_responses (request_id, user_id, response_text, usefulness_score,"
        " credits_awarded, created_at) VALUES (%s, %s, 'a', 8, 25, %s)",
        (request_id, member, now - timedelta(hours=1, minutes=30)),
    )
    db.execute(
        "INSERT INTO community_request_experts (request_id, expert_user_id, routed_at) VALUES (%s, %s, %s)",
        (request_id, member, now - timedelta(hours=2)),
    )
    with PostgresUnitOfWork() as uow:
        [row] = community_ops.community_report(uow, now=now, days=7)
    assert (row.category, row.requests, row.answered) == ("hr", 2, 1)
    assert row.answered_rate == 0.5
    assert row.median_minutes_to_first_answer == pytest.approx(30, abs=0.1)
    assert row.mean_usefulness == 8 and row.credits_paid == 25 and row.experts_over_cap == 0
    result = cli("community", "--days", "7")
    assert result.exit_code == 0, result.output
    assert "hr" in result.output and "50%" in result.output and "Aardvark" in result.output


def test_the_report_prints_whole_cells_with_no_terminal(
    ops_cli: Any, db: Any, member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found running `ops community` with no terminal (as cron or a CI log does): rich laid the table
    out for 80 columns and printed the day as "2026-1…" (tools/ops/console.py)."""
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest-xdist sets 80 in its workers
    day = datetime.now(UTC) - timedelta(days=1)
    db.execute(
        "INSERT INTO community_requests (requesting_agent_type, question, category, created_at)"
        " VALUES ('concierge', 'q', 'security_compliance', %s)",
        (day,),
    )
    result = ops_cli("community", "--days", "7")
    assert result.exit_code == 0, result.output
    assert day.date().isoformat() in result.output and "security_compliance" in result.output
