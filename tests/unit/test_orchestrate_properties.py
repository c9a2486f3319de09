"""The orchestrator service (run_tick) over the in-memory store keeps the same invariants."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings

from shared.adapters.repositories import Budget, QueueRow, SendProfile
from shared.service_layer.freshness import AssumeRelevantClassifier
from shared.service_layer.orchestrate import ACTION_SEND_BUDGETED, ACTION_SEND_EXEMPT, run_tick
from tests.fakes.orchestrator import InMemoryOrchestratorStore
from tests.unit.orchestrator_scenarios import RunResult, Scenario, SentUnit, check_invariants, scenarios
from tests.unit.test_send_policy_properties import scenario_parts, simulate_pure

ASSUME_RELEVANT = AssumeRelevantClassifier()

OVERRIDE_DATE = date(2000, 1, 1)  # an old budget row that carries the user's limits forward


def arrange(scn: Scenario) -> InMemoryOrchestratorStore:
    store = InMemoryOrchestratorStore()
    for i, u in enumerate(scn.users):
        uid = scn.user_id(i)
        store.add_user(
            SendProfile(
                uid,
                "+14155550100",
                u.zone,
                u.quiet_start,
                u.quiet_end,
                u.opted_out,
                True,
                "concierge",
                {},
                None,
            )
        )
        for at in scn.inbound_times(i):
            store.add_inbound(uid, "hello", at)
        store.budgets[(uid, OVERRIDE_DATE)] = Budget(
            OVERRIDE_DATE, 0, u.daily_limit, u.hourly_limit, u.quiet_enabled
        )
    for index, unit in enumerate(scn.units):
        for part in scenario_parts(scn, index, scn.start + timedelta(minutes=unit.due_offset)):
            store.add_row(
                QueueRow(part, "concierge_1", {}, f"unit {index} part {part.sequence_position}", None)
            )
    return store


def run_memory(scn: Scenario) -> tuple[RunResult, InMemoryOrchestratorStore]:
    store = arrange(scn)
    part_to_unit = {scn.part_id(i, p): i for i, u in enumerate(scn.units) for p in range(1, u.parts + 1)}
    result = RunResult()
    for tick in scn.ticks():
        result.due_before_tick[tick] = {
            part_to_unit[pid]
            for pid, q in store.queue.items()
            if q.status == "queued" and q.row.part.scheduled_for <= tick
        }
        run_tick(store, now=tick, classifier=ASSUME_RELEVANT)
    unit_keys = {(scn.unit_key(i) if u.parts > 1 else scn.part_id(i, 1)): i for i, u in enumerate(scn.units)}
    for action in store.actions:
        if action.action_type in (ACTION_SEND_BUDGETED, ACTION_SEND_EXEMPT):
            assert action.context_id is not None
            index = unit_keys[action.context_id]
            result.sent.append(SentUnit(index, action.at, action.action_type == ACTION_SEND_BUDGETED))
            result.ledger_counts[index] = result.ledger_counts.get(index, 0) + 1
    result.part_sent_at = {pid: q.sent_at for pid, q in store.queue.items()}
    for index in range(len(scn.units)):
        first = store.queue[scn.part_id(index, 1)]
        result.final_status[index] = (first.status, first.row.part.scheduled_for)
    user_index = {scn.user_id(i): i for i in range(len(scn.users))}
    result.budget_counts = {(user_index[u], d): b.messages_sent for (u, d), b in store.budgets.items()}
    return result, store


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_service_keeps_every_invariant_over_many_ticks(scn: Scenario) -> None:
    result, store = run_memory(scn)
    check_invariants(scn, result)
    # Every sent part became exactly one outbound message, from the user's POC agent.
    sent_parts = [pid for pid, q in store.queue.items() if q.status == "sent"]
    assert sorted(str(o.queue_id) for o in store.outbound) == sorted(
        str(scn.part_id(i, 1))
        for i, u in enumerate(scn.units)
        for _ in range(u.parts)
        if result.final_status[i][0] == "sent"
    )
    assert len(store.outbound) == len(sent_parts)
    assert {o.role for o in store.outbound} <= {"concierge"}


def decisions(result: RunResult) -> tuple[list[tuple[int, datetime, bool]], dict[int, tuple[str, datetime]]]:
    """What went out (unit, when, budgeted) and how every unit ended (status, last due time)."""
    return sorted((s.unit, s.at, s.budgeted) for s in result.sent), dict(result.final_status)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_service_sends_exactly_what_the_pure_policy_decides(scn: Scenario) -> None:
    """Liveness, which the invariants (upper bounds only) cannot see: the service holds nothing
    back that the policy would send, and defers to the same instants. Miscounting the day or the
    rolling hour, skipping users or mistaking who is active all change what goes out when."""
    result, _ = run_memory(scn)
    assert decisions(result) == decisions(simulate_pure(scn))
