"""Random orchestrator scenarios (hypothesis) and the invariants every run must keep.

A scenario is a few users (time zone, quiet hours, limits, when they text us, opted out or
not) and queued units (single rows or 2-3 part sequences) with random priorities and due
times around DST transitions. A backend runs scheduler ticks over it: the pure policy alone,
the service with the in-memory store, or the service on Postgres. ``check_invariants`` then
proves, from what was sent:

- budgeted units never exceed the daily limit per LOCAL day nor the hourly limit per rolling hour;
- nothing goes out in quiet hours, and nothing unbudgeted, except to a user who is active;
- a sequence is sent whole, in one tick, and counted once;
- within a user's tick, a more urgent due unit is never deferred while a less urgent one goes out;
- nothing is lost: every unit ends sent, cancelled (opted out) or queued for later;
- the budget table agrees with the send ledger.

The oracles (quiet hours, the active window) are computed here, not with the code under test.
The invariants only bound what goes out; the backends are also compared with the pure policy
(``simulate_pure``) decision for decision, so a unit held back needlessly fails too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from shared.domain.send_policy import QuietHours, local_date, priority_rank

ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "America/Los_Angeles")
# Starting points just before DST transitions: US (2026-03-08, 2026-11-01), UK (2026-03-29,
# 2026-10-25), Lord Howe (2026-04-05, 2026-10-04).
STARTS = (
    datetime(2026, 3, 7, 12, 0, tzinfo=UTC),
    datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
    datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 6, 0, tzinfo=UTC),
    datetime(2026, 10, 3, 6, 0, tzinfo=UTC),
)
PRIORITIES = ("urgent", "high", "medium", "low")
ACTIVE_WINDOW = timedelta(minutes=10)  # decisions B1, restated here so the oracle is independent


@dataclass(frozen=True)
class ScenarioUser:
    zone: str
    quiet_start: time | None
    quiet_end: time | None
    quiet_enabled: bool
    daily_limit: int
    hourly_limit: int
    inbound_offsets: tuple[int, ...]  # minutes after the start when the user texts us
    opted_out: bool


@dataclass(frozen=True)
class ScenarioUnit:
    user: int
    priority: str
    due_offset: int  # minutes after the start
    parts: int


@dataclass(frozen=True)
class Scenario:
    start: datetime
    users: tuple[ScenarioUser, ...]
    units: tuple[ScenarioUnit, ...]
    tick_minutes: int
    hours: int

    def user_id(self, index: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"user/{index}")

    def unit_key(self, index: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"unit/{index}")

    def part_id(self, index: int, position: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"unit/{index}/part/{position}")

    def inbound_times(self, user: int) -> list[datetime]:
        return sorted(self.start + timedelta(minutes=m) for m in self.users[user].inbound_offsets)

    def ticks(self) -> list[datetime]:
        count = self.hours * 60 // self.tick_minutes
        return [self.start + timedelta(minutes=i * self.tick_minutes) for i in range(count + 1)]

    def quiet(self, user: int) -> QuietHours:
        u = self.users[user]
        return QuietHours.from_user(u.quiet_start, u.quiet_end, u.quiet_enabled)


@st.composite
def scenarios(draw: st.DrawFn, max_users: int = 3, max_units: int = 14, hours: int = 60) -> Scenario:
    users = []
    for _ in range(draw(st.integers(1, max_users))):
        custom = draw(st.booleans())
        users.append(
            ScenarioUser(
                zone=draw(st.sampled_from(ZONES)),
                quiet_start=time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30))))
                if custom
                else None,
                quiet_end=time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30)))) if custom else None,
                quiet_enabled=draw(st.booleans()) if custom else True,
                daily_limit=draw(st.sampled_from((5, 5, 1, 2, 3))),
                hourly_limit=draw(st.sampled_from((2, 2, 1, 3))),
                inbound_offsets=tuple(draw(st.lists(st.integers(0, hours * 60 // 2), max_size=6))),
                opted_out=draw(st.integers(0, 9)) == 0,
            )
        )
    # Due times spread over half the run, or crowded into a few hours (budget contention).
    span = draw(st.sampled_from((hours * 60 // 2, 6 * 60, 2 * 60)))
    units = tuple(
        ScenarioUnit(
            user=draw(st.integers(0, len(users) - 1)),
            priority=draw(st.sampled_from(PRIORITIES)),
            due_offset=draw(st.integers(0, span)),
            parts=draw(st.sampled_from((1, 1, 1, 2, 3))),
        )
        for _ in range(draw(st.integers(1, max_units)))
    )
    # Texts around due times too: a user who writes just before or after something falls due
    # exercises the active-user exemption and its hand-over to the budget (the rolling hour).
    for index, user in enumerate(users):
        own = [u.due_offset for u in units if u.user == index]
        if own:
            near = draw(st.lists(st.tuples(st.sampled_from(own), st.integers(-15, 75)), max_size=3))
            extra = tuple(max(0, due + delta) for due, delta in near)
            users[index] = replace(user, inbound_offsets=user.inbound_offsets + extra)
    return Scenario(
        start=draw(st.sampled_from(STARTS)) + timedelta(minutes=draw(st.integers(0, 23 * 60))),
        users=tuple(users),
        units=units,
        tick_minutes=draw(st.sampled_from((5, 7, 10, 15))),
        hours=hours,
    )


@dataclass(frozen=True)
class SentUnit:
    unit: int
    at: datetime
    budgeted: bool


@dataclass
class RunResult:
    sent: list[SentUnit] = field(default_factory=list)  # in the order they were sent
    part_sent_at: dict[UUID, datetime | None] = field(default_factory=dict)  # every part, None if unsent
    final_status: dict[int, tuple[str, datetime]] = field(default_factory=dict)  # unit -> (status, due)
    due_before_tick: dict[datetime, set[int]] = field(default_factory=dict)
    budget_counts: dict[tuple[int, date], int] | None = None  # the budget table, if the backend has one
    ledger_counts: dict[int, int] = field(default_factory=dict)  # ledger entries per unit


def quiet_oracle(scn: Scenario, user_index: int, at: datetime) -> bool:
    """Quiet hours computed independently of the code under test."""
    user = scn.users[user_index]
    start = user.quiet_start or time(22, 0)
    end = user.quiet_end or time(8, 0)
    if not user.quiet_enabled or start == end:
        return False
    wall = at.astimezone(ZoneInfo(user.zone))
    minutes = wall.hour * 60 + wall.minute
    s, e = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    return (minutes >= s or minutes < e) if s > e else (s <= minutes < e)


def check_invariants(scn: Scenario, result: RunResult) -> None:
    by_user: dict[int, list[SentUnit]] = defaultdict(list)
    for s in result.sent:
        by_user[scn.units[s.unit].user].append(s)

    for user_index, sends in by_user.items():
        user = scn.users[user_index]
        tz = ZoneInfo(user.zone)
        inbound = scn.inbound_times(user_index)
        budgeted = sorted(s.at for s in sends if s.budgeted)
        per_day: dict[date, int] = defaultdict(int)
        for at in budgeted:
            per_day[local_date(at, tz)] += 1
            in_hour = [b for b in budgeted if at - timedelta(hours=1) < b <= at]
            assert len(in_hour) <= user.hourly_limit, f"hourly limit broken at {at}"
        assert all(n <= user.daily_limit for n in per_day.values()), f"daily limit broken: {dict(per_day)}"
        assert not user.opted_out, "sent to an opted-out user"
        for s in sends:
            last = max((t for t in inbound if t <= s.at), default=None)
            active = last is not None and s.at - ACTIVE_WINDOW < last <= s.at
            if not s.budgeted:
                assert active, f"unbudgeted send at {s.at} to an inactive user"
            if quiet_oracle(scn, user_index, s.at):
                assert active, f"sent in quiet hours at {s.at} ({s.at.astimezone(tz)}) to an inactive user"
        if result.budget_counts is not None:
            counted = {d: n for (u, d), n in result.budget_counts.items() if u == user_index and n}
            assert counted == {d: n for d, n in per_day.items() if n}, (
                "budget table disagrees with the ledger"
            )

    sent_units = {s.unit for s in result.sent}
    assert len(sent_units) == len(result.sent), "a unit was sent twice"
    for s in result.sent:
        parts = [result.part_sent_at[scn.part_id(s.unit, p)] for p in range(1, scn.units[s.unit].parts + 1)]
        assert parts == [s.at] * len(parts), f"sequence split: {parts}"
        assert result.ledger_counts.get(s.unit, 1) == 1, "a sequence was counted more than once"
    for index in range(len(scn.units)):
        if index not in sent_units:
            assert all(
                result.part_sent_at.get(scn.part_id(index, p)) is None
                for p in range(1, scn.units[index].parts + 1)
            ), "part of an unsent unit was sent"

    sent_at = {s.unit: s.at for s in result.sent}
    for tick, due in result.due_before_tick.items():
        sent_now = {u for u in due if sent_at.get(u) == tick}
        deferred = {u for u in due if u not in sent_now and result.final_status[u][0] != "cancelled"}
        for u in sent_now:
            for d in deferred:
                if scn.units[d].user == scn.units[u].user:
                    assert priority_rank(scn.units[d].priority) >= priority_rank(scn.units[u].priority), (
                        f"{scn.units[u].priority} sent while a due {scn.units[d].priority} waited at {tick}"
                    )

    # Within one tick, a user's units go out most urgent first.
    for sends in by_user.values():
        ticks: dict[datetime, list[int]] = defaultdict(list)
        for s in sends:
            ticks[s.at].append(priority_rank(scn.units[s.unit].priority))
        assert all(ranks == sorted(ranks) for ranks in ticks.values()), "urgent did not go first"

    last_tick = scn.ticks()[-1]
    for index, (status, due_at) in result.final_status.items():
        assert status in ("sent", "cancelled", "queued"), f"unit {index} ended {status}"
        if status == "queued":
            assert due_at > last_tick, f"unit {index} still due after the last tick"
        if status == "cancelled":
            assert scn.users[scn.units[index].user].opted_out
