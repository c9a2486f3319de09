"""When a proactive (queued) message may go out: budgets, quiet hours, priority, sequences.

Pure rules, standard library only (decisions B1-B3, platform §1.2-§1.9):

- Budget: at most ``daily_limit`` send units per user per LOCAL day and ``hourly_limit``
  per rolling hour. A send unit is one queued row, or one whole sequence (counted once).
- Quiet hours: 22:00-08:00 local by default, per-user overrides, DST-correct.
- A user who texted in the last 10 minutes is active: messages to them ignore quiet hours
  and are not budgeted.
- A blocked unit is deferred to the earliest instant it becomes allowed, never dropped.
- Order: urgent > high > medium > low, then ``scheduled_for`` (never alphabetical).

All times are timezone-aware datetimes; the caller supplies ``now`` (the clock is injected).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.constants import (
    ACTIVE_USER_WINDOW,
    DAILY_PROACTIVE_LIMIT,
    DEFAULT_SEND_HOUR,
    DEFAULT_TIMEZONE,
    HOURLY_BUDGET_WINDOW,
    HOURLY_PROACTIVE_LIMIT,
    PRIORITY_RANK,
    QUIET_HOURS_END_HOUR,
    QUIET_HOURS_START_HOUR,
)

HOURLY_WINDOW = HOURLY_BUDGET_WINDOW
_ONE_SECOND = timedelta(seconds=1)
_MAX_DEFERRAL_STEPS = 12  # each step only moves forward; the constraints settle in a few

# ---------------------------------------------------------------------------------------------
# Time zones and wall-clock arithmetic
# ---------------------------------------------------------------------------------------------


def resolve_timezone(name: str | None, fallback: str = DEFAULT_TIMEZONE) -> ZoneInfo:
    """The user's IANA zone; a missing or unknown name falls back (decisions B2)."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(fallback)


def local_wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of an instant."""
    return instant.astimezone(tz).replace(tzinfo=None)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def instants_for_wall(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every UTC instant at which the local clock first reads ``wall`` (or passes it).

    Normal wall times have one instant; times repeated when clocks go back have two (earliest
    first); times skipped when clocks go forward resolve to the transition instant, the first
    moment the local clock reads later than ``wall``.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    valid = [u for u in sorted({first, second}) if local_wall(u, tz) == wall]
    if valid:
        return valid
    # A gap: search the transition between the two readings, to the second.
    lo, hi = min(first, second), max(first, second)
    while hi - lo > _ONE_SECOND:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + _ONE_SECOND
        if local_wall(mid, tz) >= wall:
            hi = mid
        else:
            lo = mid
    return [hi]


def next_wall_time(after: datetime, tz: ZoneInfo, wall_time: time) -> datetime:
    """The first instant strictly after ``after`` at which the local clock reads ``wall_time``."""
    today = local_date(after, tz)
    for offset in range(-1, 3):
        day = today + timedelta(days=offset)
        for instant in instants_for_wall(datetime.combine(day, wall_time), tz):
            if instant > after:
                return instant
    raise AssertionError("unreachable: a wall time recurs within three days")  # pragma: no cover


def next_local_midnight(after: datetime, tz: ZoneInfo) -> datetime:
    """The start of the user's next local day (DST-correct, also where midnight is skipped)."""
    tomorrow = local_date(after, tz) + timedelta(days=1)
    return instants_for_wall(datetime.combine(tomorrow, time(0, 0)), tz)[0]


# ---------------------------------------------------------------------------------------------
# Quiet hours
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHours:
    """A local window in which proactive messages wait. ``start == end`` means no window."""

    start: time = time(QUIET_HOURS_START_HOUR, 0)
    end: time = time(QUIET_HOURS_END_HOUR, 0)
    enabled: bool = True

    @classmethod
    def from_user(cls, start: time | None, end: time | None, enabled: bool | None = True) -> QuietHours:
        default = cls()
        return cls(
            start=(start or default.start).replace(tzinfo=None),
            end=(end or default.end).replace(tzinfo=None),
            enabled=True if enabled is None else enabled,
        )

    def contains_wall(self, wall: time) -> bool:
        if not self.enabled or self.start == self.end:
            return False
        if self.start > self.end:  # crosses midnight, e.g. 22:00-08:00
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end

    def contains(self, instant: datetime, tz: ZoneInfo) -> bool:
        return self.contains_wall(local_wall(instant, tz).time())

    def end_after(self, instant: datetime, tz: ZoneInfo) -> datetime:
        """The first instant after ``instant`` when the window is over (its local end)."""
        candidate = next_wall_time(instant, tz, self.end)
        # Clocks going back can re-enter the window; step to the next end if so.
        for _ in range(3):
            if not self.contains(candidate, tz):
                return candidate
            candidate = next_wall_time(candidate, tz, self.end)
        return candidate  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Per-user state and the decision
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendState:
    """What the policy needs to know about one user at one moment."""

    timezone: ZoneInfo
    quiet: QuietHours = field(default_factory=QuietHours)
    daily_limit: int = DAILY_PROACTIVE_LIMIT
    hourly_limit: int = HOURLY_PROACTIVE_LIMIT
    budget_date: date | None = None  # the local date ``sent_today`` belongs to
    sent_today: int = 0  # budgeted units sent on budget_date
    recent_sends: tuple[datetime, ...] = ()  # budgeted unit send times, at least the last hour's
    last_inbound_at: datetime | None = None  # the user's latest inbound message
    opted_out: bool = False

    def is_active(self, now: datetime) -> bool:
        return is_active(self.last_inbound_at, now)

    def sent_on(self, day: date) -> int:
        return self.sent_today if day == self.budget_date else 0

    def sends_in_hour_before(self, now: datetime) -> list[datetime]:
        """Budgeted sends in the rolling hour (now - 1 h, now]."""
        return sorted(s for s in self.recent_sends if now - HOURLY_WINDOW < s <= now)


def is_active(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Texted us within the active window (decisions B1)."""
    return last_inbound_at is not None and now - ACTIVE_USER_WINDOW < last_inbound_at <= now


@dataclass(frozen=True)
class Send:
    budgeted: bool  # False: active-user exemption, nothing counted


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str  # 'quiet_hours' | 'daily_limit' | 'hourly_limit' (the last one that moved it)


@dataclass(frozen=True)
class Cancel:
    reason: str


Decision = Send | Defer | Cancel


def blocker(state: SendState, at: datetime) -> tuple[str, datetime] | None:
    """The first rule that forbids a budgeted send at ``at``, with when it stops forbidding."""
    tz = state.timezone
    if state.sent_on(local_date(at, tz)) >= state.daily_limit:
        return "daily_limit", next_local_midnight(at, tz)
    in_hour = state.sends_in_hour_before(at)
    if len(in_hour) >= max(state.hourly_limit, 0):
        if state.hourly_limit <= 0:
            return "hourly_limit", at + HOURLY_WINDOW
        # The window frees when the hourly_limit-th most recent send leaves it.
        return "hourly_limit", in_hour[-state.hourly_limit] + HOURLY_WINDOW
    if state.quiet.contains(at, tz):
        return "quiet_hours", state.quiet.end_after(at, tz)
    return None


def earliest_allowed(state: SendState, now: datetime) -> tuple[datetime, str | None]:
    """The earliest instant >= now at which a budgeted send is allowed, and what delayed it."""
    at, reason = now, None
    for _ in range(_MAX_DEFERRAL_STEPS):
        blocked = blocker(state, at)
        if blocked is None:
            return at, reason
        reason, later = blocked
        at = max(later, at + _ONE_SECOND)
    return at, reason


def decide(state: SendState, now: datetime) -> Decision:
    """Send now (budgeted or exempt), defer to the earliest allowed time, or cancel."""
    if state.opted_out:
        return Cancel("user opted out")
    if state.is_active(now):
        return Send(budgeted=False)
    at, reason = earliest_allowed(state, now)
    if at <= now:
        return Send(budgeted=True)
    return Defer(until=at, reason=reason or "not_allowed")


def after_send(state: SendState, now: datetime, budgeted: bool) -> SendState:
    """The state once a unit went out at ``now``."""
    if not budgeted:
        return state
    today = local_date(now, state.timezone)
    return replace(
        state,
        budget_date=today,
        sent_today=state.sent_on(today) + 1,
        recent_sends=(*state.sends_in_hour_before(now), now),
    )


# ---------------------------------------------------------------------------------------------
# Priority and sequences
# ---------------------------------------------------------------------------------------------


def priority_rank(priority: str | None) -> int:
    """1 for urgent ... 4 for low; unknown or missing priorities sort as medium."""
    return PRIORITY_RANK.get(priority or "medium", PRIORITY_RANK["medium"])


@dataclass(frozen=True)
class QueuedPart:
    """One message_queue row, as far as ordering and grouping care."""

    id: UUID
    user_id: UUID
    priority: str
    scheduled_for: datetime
    created_at: datetime
    sequence_id: UUID | None = None
    sequence_position: int | None = None
    sequence_total: int | None = None
    requires_fresh_context: bool = False


@dataclass(frozen=True)
class SendUnit:
    """One queued row, or every part of one sequence: decided, counted and sent as one."""

    key: UUID
    parts: tuple[QueuedPart, ...]

    @property
    def user_id(self) -> UUID:
        return self.parts[0].user_id

    @property
    def rank(self) -> int:
        return min(priority_rank(p.priority) for p in self.parts)

    @property
    def scheduled_for(self) -> datetime:
        return min(p.scheduled_for for p in self.parts)

    @property
    def created_at(self) -> datetime:
        return min(p.created_at for p in self.parts)

    @property
    def is_sequence(self) -> bool:
        return self.parts[0].sequence_id is not None

    @property
    def requires_fresh_context(self) -> bool:
        return any(p.requires_fresh_context for p in self.parts)

    @property
    def complete(self) -> bool:
        """All parts present: positions 1..total with nothing missing or doubled."""
        if not self.is_sequence:
            return len(self.parts) == 1
        total = self.parts[0].sequence_total
        positions = [p.sequence_position for p in self.parts]
        expected = list(range(1, (total if total is not None else len(self.parts)) + 1))
        return positions == expected

    def sort_key(self) -> tuple[int, datetime, str]:
        return (self.rank, self.scheduled_for, str(self.key))


def group_units(parts: Iterable[QueuedPart]) -> list[SendUnit]:
    """Group rows into send units (sequences whole, parts by position), most urgent first."""
    groups: dict[UUID, list[QueuedPart]] = {}
    for part in parts:
        groups.setdefault(part.sequence_id or part.id, []).append(part)
    units = [
        SendUnit(key, tuple(sorted(rows, key=lambda p: (p.sequence_position or 0, str(p.id)))))
        for key, rows in groups.items()
    ]
    return sorted(units, key=SendUnit.sort_key)


# ---------------------------------------------------------------------------------------------
# Best send time (used when queueing)
# ---------------------------------------------------------------------------------------------


def best_send_time(
    now: datetime,
    tz: ZoneInfo,
    best_hours: Sequence[int] | None,
    can_delay: bool,
    active: bool,
) -> datetime:
    """When a newly queued message should go out (platform §1.2, in the user's zone).

    Not delayable, or the user is active: now. Otherwise now if the local hour is one of the
    user's learned ``best_hours``, else the next such hour; with no learned hours, 10:00 local
    at its next occurrence (now if it is 10:xx already).
    """
    if active or not can_delay:
        return now
    hours = sorted({h for h in (best_hours or ()) if isinstance(h, int) and 0 <= h <= 23})
    if not hours:
        hours = [DEFAULT_SEND_HOUR]
    current = local_wall(now, tz)
    if current.hour in hours:
        return now
    return min(next_wall_time(now, tz, time(h, 0)) for h in hours)
