"""The real service on Postgres keeps the invariants over random schedules (fewer examples)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from shared.adapters.postgres import Connection
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.freshness import AssumeRelevantClassifier
from shared.service_layer.orchestrate import ACTION_SEND_BUDGETED, ACTION_SEND_EXEMPT, run_tick
from tests.unit.orchestrator_scenarios import RunResult, Scenario, SentUnit, check_invariants, scenarios
from tests.unit.test_orchestrate_properties import decisions
from tests.unit.test_send_policy_properties import simulate_pure

ASSUME_RELEVANT = AssumeRelevantClassifier()

pytestmark = pytest.mark.integration


def arrange(db: Connection, scn: Scenario) -> None:
    db.execute("TRUNCATE users, agent_actions_log CASCADE")
    for i, u in enumerate(scn.users):
        uid = scn.user_id(i)
        phone = f"+1415555{i:04d}"
        db.execute(
            "INSERT INTO users (id, phone_number, timezone, opted_out, verified, poc_agent_type,"
            " quiet_hours_start, quiet_hours_end) VALUES (%s, %s, %s, %s, true, 'concierge', %s, %s)",
            (uid, phone, u.zone, u.opted_out, u.quiet_start, u.quiet_end),
        )
        conv = db.execute(
            "INSERT INTO conversations (user_id, phone_number) VALUES (%s, %s) RETURNING id", (uid, phone)
        ).fetchone()
        assert conv is not None
        db.execute(
            "INSERT INTO user_message_budget (user_id, date, daily_limit, hourly_limit, quiet_hours_enabled)"
            " VALUES (%s, '2000-01-01', %s, %s, %s)",
            (uid, u.daily_limit, u.hourly_limit, u.quiet_enabled),
        )
        for at in scn.inbound_times(i):
            db.execute(
                "INSERT INTO messages (conversation_id, user_id, role, content, direction, status,"
                " created_at) VALUES (%s, %s, 'user', 'hi', 'inbound', 'received', %s)",
                (conv["id"], uid, at),
            )
    for index, unit in enumerate(scn.units):
        seq = scn.unit_key(index) if unit.parts > 1 else None
        for p in range(1, unit.parts + 1):
            db.execute(
                "INSERT INTO message_queue (id, user_id, agent_id, final_message, scheduled_for, priority,"
                " created_at, sequence_id, sequence_position, sequence_total)"
                " VALUES (%s, %s, 'concierge_1', %s, %s, %s, %s, %s, %s, %s)",
                (
                    scn.part_id(index, p),
                    scn.user_id(unit.user),
                    f"unit {index} part {p}",
                    scn.start + timedelta(minutes=unit.due_offset),
                    unit.priority,
                    scn.start,
                    seq,
                    p if seq else None,
                    unit.parts if seq else None,
                ),
            )


def run_postgres(db: Connection, scn: Scenario) -> RunResult:
    arrange(db, scn)
    part_to_unit = {scn.part_id(i, p): i for i, u in enumerate(scn.units) for p in range(1, u.parts + 1)}
    unit_keys = {(scn.unit_key(i) if u.parts > 1 else scn.part_id(i, 1)): i for i, u in enumerate(scn.units)}
    user_index = {scn.user_id(i): i for i in range(len(scn.users))}
    result = RunResult()
    for tick in scn.ticks():
        due = db.execute(
            "SELECT id FROM message_queue WHERE status = 'queued' AND scheduled_for <= %s", (tick,)
        ).fetchall()
        result.due_before_tick[tick] = {part_to_unit[r["id"]] for r in due}
        run_tick(PostgresUnitOfWork, now=tick, classifier=ASSUME_RELEVANT)
    for a in db.execute(
        "SELECT action_type, context_id, created_at FROM agent_actions_log WHERE action_type IN (%s, %s)"
        " ORDER BY created_at",
        (ACTION_SEND_BUDGETED, ACTION_SEND_EXEMPT),
    ).fetchall():
        index = unit_keys[a["context_id"]]
        result.sent.append(SentUnit(index, a["created_at"], a["action_type"] == ACTION_SEND_BUDGETED))
        result.ledger_counts[index] = result.ledger_counts.get(index, 0) + 1
    for row in db.execute("SELECT id, status, sent_at, scheduled_for FROM message_queue").fetchall():
        result.part_sent_at[row["id"]] = row["sent_at"]
        unit = part_to_unit[row["id"]]
        result.final_status.setdefault(unit, (row["status"], row["scheduled_for"]))
    result.budget_counts = {
        (user_index[r["user_id"]], r["date"]): r["messages_sent"]
        for r in db.execute("SELECT user_id, date, messages_sent FROM user_message_budget").fetchall()
    }
    sent_rows = db.execute("SELECT count(*) AS n FROM message_queue WHERE status = 'sent'").fetchone()
    messages = db.execute("SELECT count(*) AS n FROM messages WHERE direction = 'outbound'").fetchone()
    assert sent_rows is not None and messages is not None
    assert messages["n"] == sent_rows["n"], "every sent part is exactly one outbound message"
    return result


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenarios(max_users=3, max_units=10, hours=36))
def test_service_on_postgres_keeps_every_invariant(db: Connection, scn: Scenario) -> None:
    slower = Scenario(scn.start, scn.users, scn.units, max(scn.tick_minutes, 15), scn.hours)
    result = run_postgres(db, slower)
    check_invariants(slower, result)
    # Liveness: on Postgres too, exactly what the pure policy decides goes out, at the same ticks.
    assert decisions(result) == decisions(simulate_pure(slower))
