"""The Concierge's and the Innovator's re-engagement throttles (decisions B5, agents.md §4.8).

Deterministic, in code, before any LLM is asked:

1. **Pause.** A member whose re-engagements went unanswered ``RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED``
   times in a row within ``RE_ENGAGEMENT_PAUSE_WINDOW`` is paused until a human resumes them
   (``tools.ops reengagement resume``). The pause is stored state; nothing overrides it.
   Walk back through the re-engagements sent in the window, newest first, counting the ones
   with no member text after them and stopping at the first answered one. Only sends after the
   last resume count, so a resumed member starts from zero.
2. **7-day gap.** At most one re-engagement per ``RE_ENGAGEMENT_MIN_GAP``: a send less than 7
   days ago throttles the check until 7 days after it ...
3. **... unless** a priority scores above ``RE_ENGAGEMENT_OVERRIDE_SCORE`` (the Account
   Manager's critical override), which skips the gap, never the pause.

And agents.md §4.8's other loop protections, stricter than B5 and never overridden:

4. **Cap.** At most ``RE_ENGAGEMENT_MAX_PER_WINDOW`` re-engagements in the 90-day window,
   answered or not (a resume does not reset it): the next check waits until the oldest one in
   the window leaves it.
5. **Backoff.** The gap after the last re-engagement grows with the unanswered ones in a row
   (read over ``RE_ENGAGEMENT_LOOKBACK``, the ladder's length): after 1 unanswered 7 days, after 2
   14, then 30, 60, 90 (``RE_ENGAGEMENT_BACKOFF_DAYS``). An answer resets it;
   a resume does not (it resets only the pause's count), so a resumed member who still answers
   nothing is re-engaged 60, then 90 days on. The critical override skips the backoff gap as it
   skips the 7-day one.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.constants import (
    RE_ENGAGEMENT_BACKOFF_DAYS,
    RE_ENGAGEMENT_EXTEND_DAYS,
    RE_ENGAGEMENT_MAX_PER_WINDOW,
    RE_ENGAGEMENT_MIN_GAP,
    RE_ENGAGEMENT_OVERRIDE_SCORE,
    RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED,
    RE_ENGAGEMENT_PAUSE_WINDOW,
    RE_ENGAGEMENT_SEQUENCE_PARTS,
)
from shared.domain.priorities import ItemType


@dataclass(frozen=True)
class SentReEngagement:
    """One ``re_engagement_message_sent`` of the member, and whether they texted after it."""

    at: datetime
    answered: bool


@dataclass(frozen=True)
class Proceed:
    override: bool = False  # True: the 7-day gap was skipped for a priority above 90


LIMIT_7_DAYS = "7_day_limit"
LIMIT_BACKOFF = "backoff"
LIMIT_CAP = "90_day_cap"


@dataclass(frozen=True)
class Throttled:
    retry_at: datetime  # when the gap (7 days, or the backoff's) or the cap allows the next one
    last_sent_at: datetime
    reason: str = LIMIT_7_DAYS  # LIMIT_7_DAYS | LIMIT_BACKOFF | LIMIT_CAP
    gap_days: int = 7


@dataclass(frozen=True)
class Paused:
    unanswered: int
    newly: bool  # False: the member was already paused (stored state)


Throttle = Proceed | Throttled | Paused


def unanswered_streak(sends: Iterable[SentReEngagement], *, now: datetime, since: datetime | None) -> int:
    """Unanswered re-engagements in the window, newest first, up to the first answered one."""
    window_start = now - RE_ENGAGEMENT_PAUSE_WINDOW
    if since is not None and since > window_start:
        window_start = since
    count = 0
    for send in sorted(sends, key=lambda s: s.at, reverse=True):
        if send.at > now or send.at < window_start:
            continue
        if send.answered:
            break
        count += 1
    return count


def unanswered_in_a_row(sends: Iterable[SentReEngagement], *, now: datetime) -> int:
    """The backoff's count: unanswered re-engagements in a row, newest first, over all ``sends``
    given (the service reads ``RE_ENGAGEMENT_LOOKBACK``), not reset by a resume."""
    count = 0
    for send in sorted((s for s in sends if s.at <= now), key=lambda s: s.at, reverse=True):
        if send.answered:
            break
        count += 1
    return count


def check_throttles(
    *,
    now: datetime,
    sends: Sequence[SentReEngagement],
    paused: bool,
    resumed_at: datetime | None,
    top_score: float | None,
) -> Throttle:
    """What the throttles allow now: proceed (maybe by override), wait, or stay paused."""
    if paused:
        return Paused(unanswered=unanswered_streak(sends, now=now, since=resumed_at), newly=False)
    streak = unanswered_streak(sends, now=now, since=resumed_at)
    if streak >= RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED:
        return Paused(unanswered=streak, newly=True)
    # (now - 90 days, now]: a send exactly 90 days old has left, so retry_at below is when it may go
    window = sorted(s.at for s in sends if now - RE_ENGAGEMENT_PAUSE_WINDOW < s.at <= now)
    if len(window) >= RE_ENGAGEMENT_MAX_PER_WINDOW:
        oldest = window[-RE_ENGAGEMENT_MAX_PER_WINDOW]
        return Throttled(
            retry_at=oldest + RE_ENGAGEMENT_PAUSE_WINDOW,
            last_sent_at=window[-1],
            reason=LIMIT_CAP,
            gap_days=0,
        )
    past = [s.at for s in sends if s.at <= now]
    last = max(past) if past else None
    gap = backoff_gap(unanswered_in_a_row(sends, now=now))
    if last is not None and now - last < gap:
        if top_score is not None and top_score > RE_ENGAGEMENT_OVERRIDE_SCORE:
            return Proceed(override=True)
        reason = LIMIT_7_DAYS if gap <= RE_ENGAGEMENT_MIN_GAP else LIMIT_BACKOFF
        return Throttled(retry_at=last + gap, last_sent_at=last, reason=reason, gap_days=gap.days)
    return Proceed()


def backoff_gap(unanswered_in_a_row: int) -> timedelta:
    """The gap after the last re-engagement: 7 days, growing with each unanswered one in a row."""
    step = min(max(unanswered_in_a_row - 1, 0), len(RE_ENGAGEMENT_BACKOFF_DAYS) - 1)
    return max(timedelta(days=RE_ENGAGEMENT_BACKOFF_DAYS[step]), RE_ENGAGEMENT_MIN_GAP)


def clamp_extend_days(days: int) -> int:
    """``extend_days`` within the spec's 30-90."""
    low, high = RE_ENGAGEMENT_EXTEND_DAYS
    return max(low, min(high, days))


# agents.md §1's priority lanes: a community request asked of this member as an expert is "high, next
# available slot", and so is an answer to the member's own question (agents.md §6 makes the
# response event high priority and its priority rank 1, value 90: the member is waiting on it; at
# the best send time an answer that came at 16:00 waited for 10:00 the next day). Everything else
# a re-engagement carries waits for the member's best send time.
NEXT_SLOT_ITEM_TYPES = frozenset({ItemType.COMMUNITY_REQUEST, ItemType.COMMUNITY_RESPONSE})


@dataclass(frozen=True)
class Lane:
    priority: str
    can_delay: bool  # False: the next slot the orchestrator allows (quiet hours and budgets still apply)


def re_engagement_lane(item_types: Iterable[str]) -> Lane:
    """The queue lane of a re-engagement presenting these items: "high", sent at the next
    available slot, when it asks the member for their expertise or brings an answer to their
    question; else "medium" at the best send time."""
    if any(t in NEXT_SLOT_ITEM_TYPES for t in item_types):
        return Lane("high", can_delay=False)
    return Lane("medium", can_delay=True)


def sequence_structure(requested: str, *, threads: int, reassurance: bool) -> str:
    """The structure a re-engagement can have (agents.md §4.8): ``sequence_3`` (reassurance, update,
    opportunity) needs two threads and an open request of the member's to reassure them about;
    ``sequence_2`` (primary, secondary) needs two threads; anything else is ``single``."""
    if requested == "sequence_3" and threads >= 2 and reassurance:
        return "sequence_3"
    if requested in ("sequence_2", "sequence_3") and threads >= 2:
        return "sequence_2"
    return "single"


def sequence_parts(
    structure: str, threads: Sequence[Mapping[str, object]], reassurance: str | None, *, kind: str
) -> list[dict[str, object]]:
    """The queued ``message_data`` of each SMS of a re-engagement: one row per part, each naming its
    part and carrying only its own thread (or, for the reassurance, the member's own open request).
    ``single`` is one row with every thread."""
    names = RE_ENGAGEMENT_SEQUENCE_PARTS.get(structure, ("single",))
    base: dict[str, object] = {"kind": kind, "structure": structure}
    if names == ("single",) or len(threads) < 2:
        return [{**base, "structure": "single", "threads": list(threads)}]
    if structure == "sequence_3" and reassurance:
        return [
            {**base, "part": names[0], "own_request": reassurance},
            {**base, "part": names[1], "threads": [threads[0]]},
            {**base, "part": names[2], "threads": [threads[1]]},
        ]
    first, second = RE_ENGAGEMENT_SEQUENCE_PARTS["sequence_2"]
    two = {**base, "structure": "sequence_2"}
    return [{**two, "part": first, "threads": [threads[0]]}, {**two, "part": second, "threads": [threads[1]]}]
