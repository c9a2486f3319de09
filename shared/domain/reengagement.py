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

Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.constants import (
    RE_ENGAGEMENT_EXTEND_DAYS,
    RE_ENGAGEMENT_MIN_GAP,
    RE_ENGAGEMENT_OVERRIDE_SCORE,
    RE_ENGAGEMENT_PAUSE_AFTER_UNANSWERED,
    RE_ENGAGEMENT_PAUSE_WINDOW,
)


@dataclass(frozen=True)
class SentReEngagement:
    """One ``re_engagement_message_sent`` of the member, and whether they texted after it."""

    at: datetime
    answered: bool


@dataclass(frozen=True)
class Proceed:
    override: bool = False  # True: the 7-day gap was skipped for a priority above 90


@dataclass(frozen=True)
class Throttled:
    retry_at: datetime  # 7 days after the last re-engagement
    last_sent_at: datetime


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
    past = [s.at for s in sends if s.at <= now]
    last = max(past) if past else None
    if last is not None and now - last < RE_ENGAGEMENT_MIN_GAP:
        if top_score is not None and top_score > RE_ENGAGEMENT_OVERRIDE_SCORE:
            return Proceed(override=True)
        return Throttled(retry_at=last + RE_ENGAGEMENT_MIN_GAP, last_sent_at=last)
    return Proceed()


def clamp_extend_days(days: int) -> int:
    """``extend_days`` within the spec's 30-90."""
    low, high = RE_ENGAGEMENT_EXTEND_DAYS
    return max(low, min(high, days))
