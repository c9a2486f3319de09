"""Operator approval (decisions B10): approve / reject / hold / pending against real Postgres."""

from __future__ import annotations

from typing import Any

import pytest

from shared.service_layer import approval
from tests.bouncer_support import deliver_queued, queued

pytestmark = pytest.mark.integration


def onboarded(db: Any, phone: Any = "+14155550100", status: Any = "pending") -> Any:
    row = db.execute(
        "INSERT INTO users (phone_number, first_name, last_name, company, title, email, email_verified,"
        " onboarding_completed_at, approval_status) VALUES (%s, 'Sarah', 'Chen', 'Globex', 'VP Product',"
        " 'sarah@globex.com', true, now(), %s) RETURNING id",
        [phone, status],
    ).fetchone()
    conv = db.execute(
        "INSERT INTO conversations (user_id, phone_number) VALUES (%s, %s) RETURNING id", [row["id"], phone]
    ).fetchone()
    db.execute(
        "INSERT INTO agent_tasks (task_type, agent_type, user_id, scheduled_for, context_json, dedupe_key)"
        " VALUES ('re_engagement_check', 'bouncer', %s, now() + interval '1 day', '{}', %s)",
        [row["id"], f"bouncer_followup:{row['id']}:1"],
    )
    return row["id"], conv["id"]


def user(db: Any, user_id: Any) -> Any:
    return db.execute("SELECT * FROM users WHERE id = %s", [user_id]).fetchone()


def test_approve_as_concierge_in_one_unit_of_work(db):
    user_id, _ = onboarded(db)
    decision = approval.approve("(415) 555-0100", "concierge", operator="ops@example.test")
    assert decision.changed and decision.poc_agent_type == "concierge"
    row = user(db, user_id)
    assert (row["verified"], row["poc_agent_type"], row["approval_status"]) == (True, "concierge", "approved")
    [event] = db.execute("SELECT * FROM events WHERE event_type = 'user.verified'").fetchall()
    assert event["aggregate_id"] == user_id
    assert event["payload"]["poc_agent_type"] == "concierge"
    assert db.execute("SELECT count(*) AS n FROM innovators").fetchone()["n"] == 0
    pending = db.execute("SELECT task_type FROM agent_tasks WHERE status = 'pending'").fetchall()
    # the follow-ups are cancelled; what is left is the prospect upgrade check (issue 12, agents.md §2.8)
    assert [p["task_type"] for p in pending] == ["prospect_upgrade_check"]
    again = approval.approve("+14155550100", "concierge", operator="ops@example.test")
    assert not again.changed
    assert (
        db.execute("SELECT count(*) AS n FROM events WHERE event_type = 'user.verified'").fetchone()["n"] == 1
    )


def test_approve_as_innovator_creates_the_innovators_row(db):
    user_id, _ = onboarded(db)
    approval.approve("+14155550100", "innovator", operator="ops")
    row = user(db, user_id)
    assert row["poc_agent_type"] == "innovator" and row["innovator"] is True
    [innovator] = db.execute("SELECT * FROM innovators").fetchall()
    assert innovator["user_id"] == user_id and innovator["company_name"] == "Globex"


def test_reject_closes_politely_and_stops_followups(db):
    user_id, conv = onboarded(db)
    no_quiet_hours = "UPDATE users SET quiet_hours_start = '00:00', quiet_hours_end = '00:00' WHERE id = %s"
    db.execute(no_quiet_hours, [user_id])
    approval.reject("+14155550100", operator="ops")
    row = user(db, user_id)
    assert (row["approval_status"], row["verified"]) == ("rejected", False)
    # proactive: queued for the orchestrator (quiet hours, budget), never written straight to messages
    assert db.execute("SELECT * FROM messages WHERE direction = 'outbound'").fetchall() == []
    [entry] = queued(db, user_id)
    assert (entry["final_message"], entry["priority"], entry["agent_id"]) == (
        approval.REJECTION_MESSAGE,
        "high",
        "bouncer",
    )
    assert entry["requires_fresh_context"] is False and entry["conversation_context_id"] == conv
    assert deliver_queued().sent_units == 1
    [message] = db.execute("SELECT * FROM messages WHERE direction = 'outbound'").fetchall()
    assert message["content"] == approval.REJECTION_MESSAGE and "!" not in message["content"]
    assert message["status"] == "pending" and message["role"] == "bouncer"
    assert message["conversation_id"] == conv
    assert (
        db.execute("SELECT status FROM conversations WHERE id = %s", [conv]).fetchone()["status"] == "closed"
    )
    assert db.execute("SELECT count(*) AS n FROM agent_tasks WHERE status = 'pending'").fetchone()["n"] == 0
    assert not approval.reject("+14155550100", operator="ops").changed
    assert db.execute("SELECT count(*) AS n FROM messages").fetchone()["n"] == 1


def test_hold_and_pending_list(db):
    a, _ = onboarded(db, "+14155550100")
    b, _ = onboarded(db, "+14155550101")
    approval.hold("+14155550101", operator="ops")
    assert user(db, b)["approval_status"] == "on_hold"
    listed = approval.pending()
    assert [p["id"] for p in listed] == [str(a), str(b)]
    approval.approve("+14155550100", "concierge", operator="ops")
    assert [p["id"] for p in approval.pending()] == [str(b)]


def test_errors_are_clear(db):
    onboarded(db)
    with pytest.raises(approval.ApprovalError) as unknown:
        approval.approve("+14155550999", "concierge", operator="ops")
    assert unknown.value.status == 404
    with pytest.raises(approval.ApprovalError) as bad_as:
        approval.approve("+14155550100", "admin", operator="ops")
    assert bad_as.value.status == 400
    with pytest.raises(approval.ApprovalError) as bad_phone:
        approval.hold("not a phone", operator="ops")
    assert bad_phone.value.status == 400
    approval.approve("+14155550100", "concierge", operator="ops")
    with pytest.raises(approval.ApprovalError) as conflict:
        approval.reject("+14155550100", operator="ops")
    assert conflict.value.status == 409


def test_ops_cli_approve_and_pending(db):
    from typer.testing import CliRunner

    from tools.ops.cli import app

    user_id, _ = onboarded(db)
    runner = CliRunner()
    listed = runner.invoke(app, ["pending", "--plain"])
    assert listed.exit_code == 0 and "+14155550100" in listed.output
    done = runner.invoke(app, ["approve", "+14155550100", "--as", "innovator", "--operator", "ops"])
    assert done.exit_code == 0, done.output
    assert user(db, user_id)["poc_agent_type"] == "innovator"
    bad = runner.invoke(app, ["approve", "+14155550100", "--as", "root"])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["hold", "+14155550999"])
    assert missing.exit_code == 1
