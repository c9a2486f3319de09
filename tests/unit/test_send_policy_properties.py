"""Property tests of the pure send policy: random schedules, zones (DST), priorities, many ticks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.send_policy import (
    Cancel,
    Defer,
    QueuedPart,
    QuietHours,
    Send,
    SendState,
    after_send,
    blocker,
    decide,
    earliest_allowed,
    group_units,
    priority_rank,
)
from tests.unit.orchestrator_scenarios import (
    PRIORITIES,
    STARTS,
    ZONES,
    RunResult,
    Scenario,
    SentUnit,
    check_invariants,
    scenarios,
)


def scenario_parts(scn: Scenario, index: int, due: datetime) -> list[QueuedPart]:
    unit = scn.units[index]
    seq = scn.unit_key(index) if unit.parts > 1 else None
    return [
        QueuedPart(
            id=scn.part_id(index, p),
            user_id=scn.user_id(unit.user),
            priority=unit.priority,
            scheduled_for=due,
            created_at=scn.start,
            sequence_id=seq,
            sequence_position=p if seq else None,
            sequence_total=unit.parts if seq else None,
        )
        for p in range(1, unit.parts + 1)
    ]


def simulate_pure(scn: Scenario) -> RunResult:
    """Run the ticks with the pure policy only: the reference model of the orchestrator."""
    result = RunResult()
    due = {i: scn.start + timedelta(minutes=u.due_offset) for i, u in enumerate(scn.units)}
    status = dict.fromkeys(due, "queued")
    states = {
        i: SendState(
            timezone=ZoneInfo(u.zone),
            quiet=scn.quiet(i),
            daily_limit=u.daily_limit,
            hourly_limit=u.hourly_limit,
            opted_out=u.opted_out,
        )
        for i, u in enumerate(scn.users)
    }
    for tick in scn.ticks():
        due_now = {i for i in due if status[i] == "queued" and due[i] <= tick}
        result.due_before_tick[tick] = due_now
        for user in range(len(scn.users)):
            mine = [i for i in due_now if scn.units[i].user == user]
            if not mine:
                continue
            key_to_index = {
                (scn.unit_key(i) if scn.units[i].parts > 1 else scn.part_id(i, 1)): i for i in mine
            }
            inbound = [t for t in scn.inbound_times(user) if t <= tick]
            state = replace(states[user], last_inbound_at=inbound[-1] if inbound else None)
            for unit in group_units(p for i in mine for p in scenario_parts(scn, i, due[i])):
                index = key_to_index[unit.key]
                assert unit.complete
                decision = decide(state, tick)
                if isinstance(decision, Send):
                    status[index] = "sent"
                    result.sent.append(SentUnit(index, tick, decision.budgeted))
                    for part in unit.parts:
                        result.part_sent_at[part.id] = tick
                    state = after_send(state, tick, decision.budgeted)
                elif isinstance(decision, Defer):
                    assert decision.until > tick
                    due[index] = decision.until
                else:
                    assert isinstance(decision, Cancel)
                    status[index] = "cancelled"
            states[user] = state
    result.final_status = {i: (status[i], due[i]) for i in due}
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_pure_policy_keeps_every_invariant_over_many_ticks(scn: Scenario) -> None:
    check_invariants(scn, simulate_pure(scn))


@st.composite
def states_and_now(draw: st.DrawFn) -> tuple[SendState, datetime]:
    now = draw(st.sampled_from(STARTS)) + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    sends = tuple(sorted(now - timedelta(minutes=m) for m in draw(st.lists(st.integers(0, 59), max_size=3))))
    custom = draw(st.booleans())
    quiet = (
        QuietHours.from_user(
            datetime.min.replace(hour=draw(st.integers(0, 23)), minute=draw(st.sampled_from((0, 30)))).time(),
            datetime.min.replace(hour=draw(st.integers(0, 23)), minute=draw(st.sampled_from((0, 30)))).time(),
        )
        if custom
        else QuietHours()
    )
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    state = SendState(
        timezone=tz,
        quiet=quiet,
        daily_limit=draw(st.integers(1, 5)),
        hourly_limit=draw(st.integers(1, 3)),
        budget_date=now.astimezone(tz).date(),
        sent_today=draw(st.integers(0, 6)),
        recent_sends=sends,
    )
    return state, now


@settings(max_examples=400, deadline=None)
@given(states_and_now(), st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_deferral_goes_to_the_earliest_allowed_instant(
    case: tuple[SendState, datetime], probes: list[float]
) -> None:
    state, now = case
    at, reason = earliest_allowed(state, now)
    assert at >= now
    assert blocker(state, at) is None, "the chosen instant is itself blocked"
    if at > now:
        assert reason is not None
        assert blocker(state, at - timedelta(seconds=1)) is not None, "a second earlier was already allowed"
        for p in probes:  # every instant before it is blocked too: nothing is delayed needlessly
            probe = now + (at - now) * p
            if probe < at:
                assert blocker(state, probe) is not None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(PRIORITIES), st.integers(0, 1000), st.integers(1, 3)),
        min_size=1,
        max_size=12,
    )
)
def test_grouping_orders_by_semantic_priority_and_keeps_sequences_whole(
    rows: list[tuple[str, int, int]],
) -> None:
    base = STARTS[0]
    user = UUID(int=1)
    parts = []
    for n, (priority, minute, size) in enumerate(rows):
        seq = UUID(int=10_000 + n) if size > 1 else None
        for position in range(1, size + 1):
            parts.append(
                QueuedPart(
                    id=UUID(int=n * 10 + position),
                    user_id=user,
                    priority=priority,
                    scheduled_for=base + timedelta(minutes=minute),
                    created_at=base,
                    sequence_id=seq,
                    sequence_position=position if seq else None,
                    sequence_total=size if seq else None,
                )
            )
    units = group_units(reversed(parts))
    assert len(units) == len(rows)
    keys = [(priority_rank(u.parts[0].priority), u.scheduled_for) for u in units]
    assert keys == sorted(keys)
    for unit in units:
        assert unit.complete
        assert [p.sequence_position for p in unit.parts] == (
            list(range(1, len(unit.parts) + 1)) if unit.is_sequence else [None]
        )
