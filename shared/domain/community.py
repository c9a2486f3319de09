"""Community requests as pure rules (agents.md §7, §8; decisions B18). No I/O.

1. ``normalize_expertise``: the tags a question needs, trimmed, lower-cased, deduplicated.
2. ``select_experts``: from candidates ranked by the database (most overlap, least recently
   asked), skip the requester, anyone already asked today in their own time zone (the load
   cap) and anyone in their quiet hours now; the next candidate takes the place; at most 5.
3. ``closure_reason``: expired, or every asked expert has answered (at least one answer), or
   nothing to do.
4. ``read_expert_reply``: "pass" declines, "ask <name>" refers, anything else is an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from uuid import UUID

from shared.domain.constants import COMMUNITY_MAX_EXPERTS, EXPERT_ASKS_PER_LOCAL_DAY
from shared.domain.send_policy import QuietHours, local_date, resolve_timezone

# community_requests.status values that still take answers and count as open (agents.md §8).
OPEN_STATUSES = ("open", "presented", "clarifying", "dormant", "responses_received")
# ... and those that never will again.
FINISHED_STATUSES = ("closed", "cancelled", "expired", "declined", "actioned")


class ClosedReason(StrEnum):  # platform.md §2.4, community.request_closed closedReason
    EXPIRED = "expired"
    SUFFICIENT_RESPONSES = "sufficient_responses"
    MANUAL = "manual"


class SkipReason(StrEnum):
    REQUESTER = "requester"
    ASKED_TODAY = "asked_today"
    QUIET_HOURS = "quiet_hours"


# Words that say nothing about what expertise a question needs.
_TERM_STOP = frozenset(
    """a an and any are best can do does for from good has have help how i in is it looking me my
    need needs of on or our recommend recommendations recommendation should the their to tool tools
    us vendor vendors want we what which who with you your anyone someone options solution
    solutions software platform company team""".split()  # noqa: SIM905
)
EXPERTISE_TERMS_MAX = 8  # search terms read from one question


def expertise_terms(text: str) -> list[str]:
    """The words of a question that name what it is about ("SOC 2 automation for a small startup"
    -> soc, automation, small, startup): lower-cased, 3 letters or more, first-seen order, at most
    ``EXPERTISE_TERMS_MAX``. The Solution Saga and the offline Concierge tag the same question alike,
    so their two community requests for it meet (``community_find_duplicate``)."""
    out: list[str] = []
    for raw in re.findall(r"[a-z0-9][a-z0-9+.-]*", text.lower()):
        word = raw.strip(".-")
        if len(word) >= 3 and word not in _TERM_STOP and word not in out:
            out.append(word)
    return out[:EXPERTISE_TERMS_MAX]


# Areas a question is about though it names none of them, by words that say so: "negotiating a
# term sheet with a lead investor" is fundraising. Read only when a request's own tags match
# nobody (``area_hints``), never stored as its tags (which also decide what is a duplicate).
# Found on the local stack: that question reached no one, though two members list fundraising.
AREA_HINTS: dict[str, tuple[str, ...]] = {
    "fundraising": (
        "term sheet",
        "investor",
        "investors",
        "fundraise",  # not "raise": "how do I raise prices?" is no fundraising question
        "seed round",
        "pre-seed",
        "series a",
        "series b",
        "valuation",
        "cap table",
        "pitch deck",
        "bridge round",
        "convertible note",
        "vc",
        "vcs",
    ),
    "venture capital": ("vc", "vcs", "venture", "term sheet"),
    "hiring": (
        "hire",
        "hires",
        "hiring",
        "recruit",
        "recruiting",
        "recruiter",
        "candidate",
        "candidates",
        "headhunter",
    ),
    "compliance": ("soc 2", "soc2", "iso 27001", "gdpr", "hipaa", "compliance"),
    "security": ("pen test", "penetration test", "infosec", "security"),
    "marketing": ("marketing", "seo", "branding", "advertising", "ad spend"),
    "sales": ("sales", "crm", "outbound", "quota", "revops"),
    "finance": ("accounting", "bookkeeping", "fp&a", "cfo", "tax", "audit"),
    "freight": ("freight", "shipping", "logistics", "customs", "3pl", "trucking"),
    "legal": ("lawyer", "attorney", "legal", "trademark", "patent"),
    "cloud infrastructure": ("aws", "gcp", "azure", "kubernetes", "devops"),
    "data engineering": ("data warehouse", "etl", "snowflake", "databricks", "dbt"),
}


def area_hints(text: str, *, known: Iterable[str] = ()) -> list[str]:
    """The areas of ``AREA_HINTS`` whose words ``text`` uses (whole words), in the table's order,
    less those in ``known``."""
    lowered = " ".join(text.lower().split())
    have = {k.lower() for k in known}
    return [
        area
        for area, words in AREA_HINTS.items()
        if area not in have
        and any(re.search(rf"(?<![\w&-]){re.escape(w)}(?![\w&-])", lowered) for w in words)
    ]


def normalize_expertise(tags: Iterable[str] | None) -> tuple[str, ...]:
    """Trimmed, lower-cased, single-spaced, unique, in first-seen order."""
    seen: dict[str, None] = {}
    for tag in tags or ():
        clean = " ".join(str(tag).split()).lower()
        if clean:
            seen.setdefault(clean, None)
    return tuple(seen)


@dataclass(frozen=True)
class Candidate:
    """A verified member whose expertise overlaps, as the matching query returns them."""

    user_id: UUID
    overlap: int
    recent_asks: tuple[datetime, ...] = ()  # when they were asked in the last two days, any request
    timezone: str | None = None
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    quiet_hours_enabled: bool = True


@dataclass(frozen=True)
class Selection:
    chosen: tuple[UUID, ...]
    skipped: tuple[tuple[UUID, SkipReason], ...]


def skip_reason(candidate: Candidate, *, requester_ids: Sequence[UUID], now: datetime) -> SkipReason | None:
    """Why this candidate may not be asked now, or None."""
    if candidate.user_id in requester_ids:
        return SkipReason.REQUESTER
    tz = resolve_timezone(candidate.timezone)
    today = local_date(now, tz)
    if sum(1 for at in candidate.recent_asks if local_date(at, tz) == today) >= EXPERT_ASKS_PER_LOCAL_DAY:
        return SkipReason.ASKED_TODAY
    quiet = QuietHours.from_user(
        candidate.quiet_hours_start, candidate.quiet_hours_end, candidate.quiet_hours_enabled
    )
    if quiet.contains(now, tz):
        return SkipReason.QUIET_HOURS
    return None


def select_experts(
    candidates: Sequence[Candidate],
    *,
    requester_ids: Sequence[UUID],
    now: datetime,
    limit: int = COMMUNITY_MAX_EXPERTS,
) -> Selection:
    """The first ``limit`` candidates (in the given order) that may be asked now."""
    chosen: list[UUID] = []
    skipped: list[tuple[UUID, SkipReason]] = []
    for candidate in candidates:
        if len(chosen) >= limit:
            break
        if candidate.user_id in chosen:
            continue
        reason = skip_reason(candidate, requester_ids=requester_ids, now=now)
        if reason is None:
            chosen.append(candidate.user_id)
        else:
            skipped.append((candidate.user_id, reason))
    return Selection(chosen=tuple(chosen), skipped=tuple(skipped))


def closure_reason(
    *,
    status: str,
    expires_at: datetime,
    now: datetime,
    ask_statuses: Sequence[str],
    responses_count: int,
) -> ClosedReason | None:
    """Whether the hourly job closes this request now, and why (agents.md §8.14)."""
    if status not in OPEN_STATUSES:
        return None
    if expires_at <= now:
        return ClosedReason.EXPIRED
    if responses_count > 0 and ask_statuses and all(s != "asked" for s in ask_statuses):
        return ClosedReason.SUFFICIENT_RESPONSES
    return None


def accepts_responses(status: str, expires_at: datetime, now: datetime) -> bool:
    return status in OPEN_STATUSES and expires_at > now


# --- The expert's reply ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    pass


@dataclass(frozen=True)
class Referral:
    name: str


@dataclass(frozen=True)
class Answer:
    text: str


ExpertReply = Pass | Referral | Answer

# A decline, the whole reply: "pass", and the ways experts say it (found on the local stack: "not my
# area, sorry" was recorded as an answer and would have been passed on to the member who asked).
_PASS = re.compile(
    r"^\s*(?:(?:sorry|unfortunately|honestly|afraid)[\s,.!-]+)?"
    r"(?:pass|no thanks|not me|skip|"
    r"(?:that'?s |this is |it'?s )?not (?:really )?(?:my|in my) "
    r"(?:area|field|thing|expertise|wheelhouse|space|world|lane|domain)|"
    r"(?:that'?s |this is |it'?s )?(?:outside|out of) my (?:area|expertise|wheelhouse|field|depth|lane)|"
    r"(?:i )?(?:don'?t|do not) know(?: (?:anything|much) about (?:it|that|this))?|"
    r"(?:i )?(?:don'?t|do not) know (?:anyone|anybody|someone)(?: there| in (?:that|this) (?:space|area))?|"
    r"no (?:idea|clue)|"
    r"(?:i )?(?:can'?t|cannot|couldn'?t) help(?: (?:with|on) (?:this|that|it)(?: one)?)?|"
    r"(?:i'?m |i am )?not (?:the right person|sure i can help)(?: for (?:this|that)(?: one)?)?)"
    r"(?:[\s,.;!-]+(?:sorry|thanks|thank you|unfortunately|here|i'?m afraid|on this one|for this one))*"
    r"\s*[.!]*\s*$",
    re.IGNORECASE,
)
_REFER = re.compile(
    r"^\s*(?:ask|try|check with)\s+([A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*){0,2})\s*[.!]*\s*$",
    re.IGNORECASE,
)


def read_expert_reply(text: str) -> ExpertReply:
    """ "pass" declines without penalty; "ask Dana Kim" names another member; else an answer."""
    if _PASS.match(text):
        return Pass()
    match = _REFER.match(text)
    if match:
        return Referral(name=" ".join(match.group(1).split()))
    return Answer(text=text.strip())


def split_name(name: str) -> tuple[str, str | None]:
    """'Dana Kim' -> ('Dana', 'Kim'); 'Dana' -> ('Dana', None)."""
    parts = name.split()
    return (parts[0], " ".join(parts[1:]) or None) if parts else ("", None)
