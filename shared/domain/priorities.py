"""Priority rules of the Account Manager (agents.md §6, §13, §16; decisions B9): pure arithmetic.

- ``score_*_intro_*``: the deterministic intro-flow scoring table of §6, case by case;
- ``fallback_score``: the offline brain for items the LLM would score (goals, challenges,
  community requests, research results) - recency, expertise overlap, credits offered and the
  member's goal keywords;
- ``rank``: merge, sort and keep the top ``TOP_PRIORITIES``;
- ``source_transition``: what a source row's status means for its priority (actioned, expired,
  removed), the event-driven updates of §6 read from the source of truth;
- ``has_goal_keywords``: the inbound ``explicit_mention`` trigger.

Every number here is the spec's, named once, with its section; the two-strike rule and the
review's cadence are in ``shared.domain.constants``, beside the code that shares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256
from uuid import UUID

from shared.domain.constants import PRIORITY_DORMANT_AFTER_PRESENTATIONS

# --- Constants (agents.md §6, §13, §16; decisions B9) ------------------------------------------
TOP_PRIORITIES = 10  # keep the top 10 (raised from 5 to make room for intro items)
URGENT_SCORE = 80  # an item scoring above this publishes priority.update
MAX_SCORE = 100
COMMUNITY_RESPONSE_SCORE = 90  # community_response_available: rank 1, value 90 (§6)
COMMUNITY_RESPONSE_RANK = 1
# notify_expert_of_impact: the spec gives no number, but says the Concierge then tells the expert
# (agents.md §8.13). Above the override (90): it announces itself (priority.update) and, news not a
# repeat, may skip re-engagement's 7-day gap (the expert was usually just asked by a re-engagement).
EXPERT_IMPACT_SCORE = 91
# An LLM score is kept while the item's content is unchanged, at most this long (then re-scored).
LLM_SCORE_MAX_AGE = timedelta(days=7)
LLM_ITEMS_PER_CALL = 20  # items scored in one call; more make several calls
INITIAL_SETUP_INBOUND_COUNT = 3  # the member's 3rd inbound message triggers a run (§6, §16)
# Inbound keywords that trigger a run (§6 names the first four; platform.md §3.3 the rest).
GOAL_KEYWORDS = (
    "goal",
    "trying to",
    "working on",
    "challenge",
    "problem",
    "struggling",
    "opportunity",
    "looking for",
)
SOLUTION_UPDATE_TTL = timedelta(days=14)  # research results stop being news after two weeks
GOAL_TTL = timedelta(days=90)  # a goal mentioned in passing and never repeated fades

# Source statuses a priority may be built from (§6 dormancy filtering).
OPEN_SOURCE_STATUSES = ("open", "presented", "clarifying")
LIVE_PRIORITY_STATUSES = ("active", "presented", "clarifying")


# How the Account Manager's summary of an intro offer begins for its connector, once the introducee
# accepted (the offline mention asks them to confirm instead of to accept).
CONFIRM_OFFER = "Confirm your intro of"


class ItemType(StrEnum):
    INTRO_OPPORTUNITY = "intro_opportunity"
    CONNECTION_REQUEST = "connection_request"
    INTRO_OFFER = "intro_offer"
    COMMUNITY_REQUEST = "community_request"
    COMMUNITY_RESPONSE = "community_response"
    EXPERT_IMPACT = "expert_impact"
    GOAL = "goal"
    CHALLENGE = "challenge"
    SOLUTION_UPDATE = "solution_update"


# Scored by the LLM (or the fallback): "goals, challenges and opportunities" (§6 step 3).
LLM_SCORED = frozenset(
    {ItemType.GOAL, ItemType.CHALLENGE, ItemType.COMMUNITY_REQUEST, ItemType.SOLUTION_UPDATE}
)


# News for the member whose summary is the whole message (the Account Manager writes it to be
# relayed): an answer to their question, the impact of theirs.
NEWS_ITEM_TYPES = frozenset({ItemType.COMMUNITY_RESPONSE.value, ItemType.EXPERT_IMPACT.value})


class ScoreSource(StrEnum):
    LLM = "llm"
    RULES = "rules"  # the intro-flow table
    FALLBACK = "fallback"  # the offline brain
    FIXED = "fixed"  # a number the spec fixes (community_response 90)


def _clamp(score: float) -> float:
    return float(max(0, min(MAX_SCORE, round(score, 2))))


# --- The intro-flow table (agents.md §6 "Intro-flow scoring (implemented module)") -------------

INTRO_OPPORTUNITY_BASE = 50
INTRO_OPPORTUNITY_BOUNTY_CAP = 30
INTRO_OPPORTUNITY_FIRST_DEGREE = 15
INTRO_OPPORTUNITY_SECOND_DEGREE = 5
INTRO_OPPORTUNITY_FRESH = (timedelta(days=3), 10)

CONNECTION_REQUEST_BASE = 60
CONNECTION_REQUEST_PER_VOUCH = 20
CONNECTION_REQUEST_CREDITS_CAP = 15
CONNECTION_REQUEST_FRESH = (timedelta(days=2), 15)
CONNECTION_REQUEST_STALE = (timedelta(days=14), -10)

OFFER_INTRODUCEE_BASE = 55
OFFER_INTRODUCEE_BOUNTY_CAP = 25
OFFER_FROM_COMMUNITY_REQUEST = 10
OFFER_FROM_NOMINATION = 5
OFFER_INTRODUCEE_FRESH = (timedelta(days=2), 10)

OFFER_CONNECTOR_BASE = 70
OFFER_CONNECTOR_FRESH = (timedelta(days=1), 15)


def score_intro_opportunity(*, bounty_credits: int, connection_strength: str, age: timedelta) -> float:
    """The user is the connector; status open: 50 + min(bounty/2, 30) + degree + 10 if < 3 days."""
    score: float = INTRO_OPPORTUNITY_BASE + min(bounty_credits / 2, INTRO_OPPORTUNITY_BOUNTY_CAP)
    if connection_strength == "first_degree":
        score += INTRO_OPPORTUNITY_FIRST_DEGREE
    elif connection_strength == "second_degree":
        score += INTRO_OPPORTUNITY_SECOND_DEGREE
    if age < INTRO_OPPORTUNITY_FRESH[0]:
        score += INTRO_OPPORTUNITY_FRESH[1]
    return _clamp(score)


def score_connection_request(*, vouches: int, requestor_credits_spent: int, age: timedelta) -> float:
    """The user is the introducee; status open: 60 + 20/vouch + min(credits/5, 15) + age adjustment."""
    score: float = CONNECTION_REQUEST_BASE + CONNECTION_REQUEST_PER_VOUCH * vouches
    score += min(requestor_credits_spent / 5, CONNECTION_REQUEST_CREDITS_CAP)
    if age < CONNECTION_REQUEST_FRESH[0]:
        score += CONNECTION_REQUEST_FRESH[1]
    elif age > CONNECTION_REQUEST_STALE[0]:
        score += CONNECTION_REQUEST_STALE[1]
    return _clamp(score)


def score_offer_for_introducee(*, bounty_credits: int, context_type: str, age: timedelta) -> float:
    """pending_introducee_response: 55 + min(bounty/2, 25) + origin + 10 if < 2 days."""
    score: float = OFFER_INTRODUCEE_BASE + min(bounty_credits / 2, OFFER_INTRODUCEE_BOUNTY_CAP)
    if context_type == "community_request":
        score += OFFER_FROM_COMMUNITY_REQUEST
    elif context_type == "nomination":
        score += OFFER_FROM_NOMINATION
    if age < OFFER_INTRODUCEE_FRESH[0]:
        score += OFFER_INTRODUCEE_FRESH[1]
    return _clamp(score)


def score_offer_for_connector(*, age: timedelta) -> float:
    """pending_connector_confirmation: 70 + 15 if under 1 day old."""
    score = OFFER_CONNECTOR_BASE + (OFFER_CONNECTOR_FRESH[1] if age < OFFER_CONNECTOR_FRESH[0] else 0)
    return _clamp(score)


# --- Items, the offline brain and the ranking --------------------------------------------------


@dataclass(frozen=True)
class Member:
    """What scoring may know of the member (profile and past behaviour)."""

    user_id: UUID
    expertise: tuple[str, ...] = ()
    goal_text: str = ""  # the member's goals and challenges, joined
    title: str = ""
    company: str = ""
    answers_given: int = 0  # community answers so far: past behaviour


@dataclass(frozen=True)
class Candidate:
    """One item that may become a priority, with its denormalised display fields (§6 step 7)."""

    item_type: ItemType
    item_id: UUID
    created_at: datetime
    text: str = ""  # what the LLM reads: the question, the goal, the research summary
    category: str | None = None
    expertise: tuple[str, ...] = ()
    credits: int = 0  # credits offered (bounty) to the member for acting
    score: float | None = None  # set for rules/fixed items; None until an LLM-scored item is scored
    source: ScoreSource = ScoreSource.RULES
    reason: str = ""
    pinned: bool = False  # ranked first whatever its score (community_response: rank 1, §6)
    expires_at: datetime | None = None
    presentation_count: int = 0
    last_presented_at: datetime | None = None
    presented: bool = False  # the source row says it has been shown
    summary: str = ""
    primary_name: str | None = None
    secondary_name: str | None = None
    context: str | None = None
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, UUID]:
        return (str(self.item_type), self.item_id)

    @property
    def fingerprint(self) -> str:
        """What the score depends on; an unchanged fingerprint keeps an LLM score."""
        basis = "|".join(
            [self.item_type, self.text, self.category or "", ",".join(self.expertise), str(self.credits)]
        )
        return sha256(basis.encode()).hexdigest()[:32]


WORD = re.compile(r"[a-z][a-z0-9+#.-]{2,}")
STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "have",
        "has",
        "are",
        "was",
        "were",
        "you",
        "your",
        "our",
        "their",
        "about",
        "into",
        "what",
        "when",
        "who",
        "how",
        "can",
        "could",
        "would",
        "should",
        "need",
        "needs",
        "want",
        "looking",
        "trying",
        "working",
        "on",
        "any",
        "some",
        "more",
        "most",
        "help",
        "anyone",
        "know",
        "best",
        "good",
    ]
)
RECENCY_WINDOW = timedelta(days=14)
FALLBACK_BASE = {
    # An ask routed to this expert on their own expertise is time-sensitive (the asker waits): fresh
    # and matched it scores above 80, so it is presented (priority.update) with no LLM too.
    ItemType.COMMUNITY_REQUEST: 60,
    ItemType.GOAL: 55,
    ItemType.CHALLENGE: 55,
    ItemType.SOLUTION_UPDATE: 60,
}
FALLBACK_RECENCY_MAX = 15  # linear over RECENCY_WINDOW
FALLBACK_PER_EXPERTISE_MATCH = 10
FALLBACK_EXPERTISE_CAP = 20
FALLBACK_CREDITS_CAP = 10  # credits / 5, capped
FALLBACK_PER_GOAL_KEYWORD = 5
FALLBACK_GOAL_KEYWORD_CAP = 15


def keywords(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP_WORDS}


def fallback_score(item: Candidate, member: Member, now: datetime) -> tuple[float, str]:
    """The offline brain's score for an LLM-scored item, and why (recency, expertise overlap,
    credits offered, the member's goal keywords)."""
    base = FALLBACK_BASE.get(item.item_type, 45)
    age = max(now - item.created_at, timedelta(0))
    recency = FALLBACK_RECENCY_MAX * max(0.0, 1 - age / RECENCY_WINDOW)
    wanted = {e.lower() for e in item.expertise} | keywords(item.category or "")
    have = {e.lower() for e in member.expertise}
    have_words = set().union(*(keywords(e) for e in member.expertise)) if member.expertise else set()
    matches = len(wanted & have) + len(keywords(" ".join(item.expertise)) & have_words - (wanted & have))
    expertise = min(FALLBACK_PER_EXPERTISE_MATCH * matches, FALLBACK_EXPERTISE_CAP)
    credits = min(item.credits / 5, FALLBACK_CREDITS_CAP)
    goal_hits = 0
    if item.item_type not in (ItemType.GOAL, ItemType.CHALLENGE):
        goal_hits = len(keywords(item.text + " " + (item.category or "")) & keywords(member.goal_text))
    goals = min(FALLBACK_PER_GOAL_KEYWORD * goal_hits, FALLBACK_GOAL_KEYWORD_CAP)
    score = _clamp(base + recency + expertise + credits + goals)
    reason = (
        f"fallback: base {base}, recency {recency:.0f}, expertise {expertise}, "
        f"credits {credits:.0f}, goal keywords {goals}"
    )
    return score, reason


def rank(candidates: Iterable[Candidate], limit: int = TOP_PRIORITIES) -> list[Candidate]:
    """Pinned items first, then highest score; ties: newer first, then type and id (stable)."""
    scored = [c for c in candidates if c.score is not None]
    ordered = sorted(
        scored,
        key=lambda c: (not c.pinned, -(c.score or 0), -c.created_at.timestamp(), c.item_type, str(c.item_id)),
    )
    return ordered[:limit]


def urgent(items: Sequence[Candidate]) -> list[Candidate]:
    return [c for c in items if (c.score or 0) > URGENT_SCORE]


class Transition(StrEnum):
    KEEP = "keep"
    ACTIONED = "actioned"
    EXPIRED = "expired"
    REMOVED = "removed"
    DORMANT = "dormant"


# Source status -> what happens to its priority (§6 event-driven updates, §12, §13).
_SOURCE_TRANSITIONS: dict[str, Transition] = {
    "open": Transition.KEEP,
    "presented": Transition.KEEP,
    "clarifying": Transition.KEEP,
    "accepted": Transition.ACTIONED,
    "actioned": Transition.ACTIONED,
    "completed": Transition.ACTIONED,
    "confirmed": Transition.ACTIONED,
    "responses_received": Transition.KEEP,
    "declined": Transition.EXPIRED,
    "rejected": Transition.EXPIRED,
    "introducee_declined": Transition.EXPIRED,
    "connector_declined": Transition.EXPIRED,
    "closed": Transition.EXPIRED,
    "dormant": Transition.DORMANT,
    "cancelled": Transition.REMOVED,
    "expired": Transition.REMOVED,  # an expired connection request is removed (§6)
    "paused": Transition.REMOVED,  # a sibling paused by another connector's acceptance
    "pending_introducee_response": Transition.KEEP,
    "pending_connector_confirmation": Transition.ACTIONED,  # the introducee accepted (§12.4 step 3)
}


def source_transition(status: str | None) -> Transition:
    """What a source row's status means for its priority; a vanished row (None) is removed."""
    if status is None:
        return Transition.REMOVED
    return _SOURCE_TRANSITIONS.get(status, Transition.REMOVED)


def has_goal_keywords(text: str) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(k)}\b", lowered) for k in GOAL_KEYWORDS)


def is_dormant(presentation_count: int) -> bool:
    return presentation_count >= PRIORITY_DORMANT_AFTER_PRESENTATIONS


def cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
