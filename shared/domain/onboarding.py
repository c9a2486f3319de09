"""Onboarding rules for the Bouncer (agents.md §2.3, §2.10; decisions B4, B10).

Pure: the onboarding state and the next missing field, the follow-up schedule, and the
deterministic field extraction the fallback brain uses when no LLM is available (A10).

Extraction reads one inbound message in the light of what the Bouncer last asked for
(``expecting``): after "who told you about this?" a bare name is the referrer, after
"what's your name?" it is the user's own name (the "Ben Trenda" bug, agents.md §2.3).
Email addresses typed into the chat are reported but never become the user's email (B10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain.constants import (
    BOUNCER_FOLLOWUP_DELAYS,
    BOUNCER_MAX_FOLLOWUPS,
    BOUNCER_PAUSE_AFTER_LAST_FOLLOWUP,
    ONBOARDING_FIELD_MAX_CHARS,
)

REQUIRED_FIELDS = ("first_name", "last_name", "company", "title")


class Step(StrEnum):
    """What the Bouncer needs next, in the order of agents.md §2.3."""

    ASK_REFERRER = "ask_referrer"
    ASK_NAME = "ask_name"
    ASK_LAST_NAME = "ask_last_name"
    ASK_COMPANY = "ask_company"
    ASK_TITLE = "ask_title"
    REQUEST_EMAIL_VERIFICATION = "request_email_verification"
    AWAIT_EMAIL_VERIFICATION = "await_email_verification"
    COMPLETE_ONBOARDING = "complete_onboarding"
    AWAITING_APPROVAL = "awaiting_approval"
    CLOSED = "closed"  # not interested, or rejected by an operator


@dataclass(frozen=True)
class OnboardingState:
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    referrer_known: bool = False  # referred_by or name_dropped is set
    verification_requested: bool = False  # the verify address was sent
    email_verified: bool = False
    onboarding_completed: bool = False
    approval_status: str | None = None
    declined: bool = False  # the user said they are not interested

    def missing_fields(self) -> list[str]:
        return [name for name in REQUIRED_FIELDS if not getattr(self, name)]

    def info_complete(self) -> bool:
        return not self.missing_fields()

    def ready_to_complete(self) -> bool:
        """complete_onboarding's precondition (agents.md §2.2): all fields and a verified email."""
        return self.info_complete() and self.email_verified and not self.onboarding_completed


def next_step(state: OnboardingState) -> Step:  # noqa: PLR0911 - the order of agents.md §2.3
    if state.declined or state.approval_status == "rejected":
        return Step.CLOSED
    if state.onboarding_completed:
        return Step.AWAITING_APPROVAL
    if not state.referrer_known:
        return Step.ASK_REFERRER
    if not state.first_name:
        return Step.ASK_NAME
    if not state.last_name:
        return Step.ASK_LAST_NAME
    if not state.company:
        return Step.ASK_COMPANY
    if not state.title:
        return Step.ASK_TITLE
    if state.email_verified:
        return Step.COMPLETE_ONBOARDING
    if state.verification_requested:
        return Step.AWAIT_EMAIL_VERIFICATION
    return Step.REQUEST_EMAIL_VERIFICATION


# --- Follow-ups (decisions B4) -------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpPlan:
    attempt: int  # 1 or 2 send a follow-up; BOUNCER_MAX_FOLLOWUPS + 1 only pauses
    due_at: datetime


def follow_up_after(last_interaction_at: datetime, attempt: int) -> FollowUpPlan | None:
    """When follow-up ``attempt`` is due, counted from the last interaction.

    Attempt 1 comes 24 h after the last interaction, attempt 2 24 h after attempt 1; one more
    check 24 h after the second pauses the conversation if it is still unanswered.
    """
    if attempt < 1 or attempt > BOUNCER_MAX_FOLLOWUPS + 1:
        return None
    if attempt == 1:
        return FollowUpPlan(1, last_interaction_at + BOUNCER_FOLLOWUP_DELAYS[0])
    if attempt <= BOUNCER_MAX_FOLLOWUPS:
        gap = BOUNCER_FOLLOWUP_DELAYS[attempt - 1] - BOUNCER_FOLLOWUP_DELAYS[attempt - 2]
        return FollowUpPlan(attempt, last_interaction_at + gap)
    return FollowUpPlan(attempt, last_interaction_at + BOUNCER_PAUSE_AFTER_LAST_FOLLOWUP)


def follow_up_sends_message(attempt: int) -> bool:
    return 1 <= attempt <= BOUNCER_MAX_FOLLOWUPS


def needs_follow_up(state: OnboardingState) -> bool:
    """Follow-ups run while onboarding is incomplete and the user has not closed the door."""
    step = next_step(state)
    return step not in (Step.CLOSED, Step.AWAITING_APPROVAL, Step.COMPLETE_ONBOARDING)


FOLLOW_UP_GAP: timedelta = BOUNCER_FOLLOWUP_DELAYS[0]


# --- Deterministic extraction (the fallback brain, decisions A10) ----------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_SPACES = re.compile(r"\s+")
_NAME_TOKEN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’\-.]*$")
_NAME_PARTICLES = frozenset(
    {"de", "da", "di", "del", "della", "der", "den", "van", "von", "la", "le", "du", "st", "st."}
)
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "ph.d.", "md", "m.d.", "mba"})
_GREETINGS = frozenset(
    {
        "hi",
        "hey",
        "hello",
        "yo",
        "sup",
        "hiya",
        "howdy",
        "heya",
        "hey there",
        "hi there",
        "hello there",
        "good morning",
        "good afternoon",
        "good evening",
        "whats up",
        "what's up",
        "ok",
        "okay",
        "k",
        "yes",
        "yeah",
        "yep",
        "sure",
        "cool",
        "thanks",
        "thank you",
        "ty",
        "no",
        "nope",
        "hmm",
        "?",
    }
)
_NOT_NAME_WORDS = frozenset(
    {
        "i",
        "im",
        "i'm",
        "me",
        "my",
        "the",
        "a",
        "an",
        "at",
        "of",
        "for",
        "and",
        "is",
        "it",
        "this",
        "that",
        "who",
        "what",
        "why",
        "how",
        "where",
        "when",
        "you",
        "your",
        "we",
        "our",
        "they",
        "friend",
        "someone",
        "somebody",
        "nobody",
        "no",
        "one",
        "not",
        "sure",
        "dunno",
        "idk",
        "forget",
        "remember",
        "work",
        "works",
        "working",
        "company",
        "title",
        "name",
        "hey",
        "hi",
        "hello",
        "thanks",
        "yes",
        "yeah",
        "ok",
        "okay",
        "told",
        "referred",
        "sent",
        "invited",
        "from",
        "with",
        "here",
        "there",
        "just",
        "guy",
        "girl",
        "linkedin",
        "twitter",
        "google",
        "online",
        "internet",
        "ad",
        "article",
        "please",
        "pls",
        "good",
        "fine",
        "great",
        "interested",
        "curious",
        "new",
        "back",
        "ready",
        "in",
        "sorry",
        "busy",
        "confused",
        "well",
        "excited",
        "looking",
        "trying",
        "also",
        "still",
        "so",
        "weird",
        "cool",
        "interesting",
        "strange",
        "spam",
        "bot",
        "human",
        "real",
        "person",
        "done",
        "out",
        "ok.",
        "all",
        "set",
        "glad",
        "happy",
        "on",
        "off",
    }
)
# Words that mark an organisation, never a person's name: "Acme Corp, VP Engineering" is a
# company and a title, not Mr Corp.
_COMPANY_WORDS = frozenset(
    {
        "corp",
        "corporation",
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "co",
        "gmbh",
        "plc",
        "llp",
        "holdings",
        "group",
        "technologies",
        "labs",
        "ventures",
        "partners",
        "capital",
        "software",
        "systems",
        "solutions",
        "consulting",
        "industries",
        "enterprises",
    }
)
_TITLE_WORDS = frozenset(
    {
        "ceo",
        "cto",
        "cfo",
        "coo",
        "cmo",
        "cio",
        "ciso",
        "cpo",
        "cro",
        "vp",
        "svp",
        "evp",
        "avp",
        "vice",
        "president",
        "director",
        "head",
        "manager",
        "lead",
        "engineer",
        "founder",
        "cofounder",
        "co-founder",
        "partner",
        "principal",
        "officer",
        "chief",
        "analyst",
        "consultant",
        "designer",
        "architect",
        "developer",
        "scientist",
        "researcher",
        "associate",
        "owner",
        "chair",
        "chairman",
        "chairwoman",
        "board",
        "advisor",
        "adviser",
        "investor",
        "gm",
        "general",
        "senior",
        "sr",
        "junior",
        "staff",
        "specialist",
        "strategist",
        "editor",
        "writer",
        "professor",
        "recruiter",
        "counsel",
        "attorney",
        "lawyer",
        "md",
        "executive",
        "administrator",
        "coordinator",
        "product",
        "marketing",
        "sales",
        "engineering",
        "operations",
        "growth",
        "evangelist",
        "pm",
        "swe",
        "intern",
        "student",
        "trader",
        "banker",
        "accountant",
        "controller",
        "treasurer",
        "secretary",
        "member",
        "fellow",
    }
)
_REFERRER_PATTERNS = (
    re.compile(r"\b(?:referred|sent|invited|introduced)\s+(?:me\s+)?by\s+(?P<name>[^.,;!?\n]+)", re.I),
    re.compile(
        r"\b(?:heard|learned|found out)\s+(?:about\s+(?:it|this|you|yachtparty)\s+)?(?:from|through|via)\s+"
        r"(?P<name>[^.,;!?\n]+)",
        re.I,
    ),
    re.compile(
        r"\b(?:my\s+(?:friend|colleague|buddy|boss|cofounder|co-founder|partner)\s+)?"
        r"(?P<name>[A-Za-z][A-Za-z'’\-.]*(?:\s+[A-Za-z][A-Za-z'’\-.]*){0,3})\s+"
        r"(?:told|referred|sent|invited|introduced|gave|mentioned|recommended|pointed)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:my\s+(?:friend|colleague|buddy|boss|cofounder|co-founder|partner))\s+"
        r"(?P<name>[A-Za-z][A-Za-z'’\-]*(?:\s+[A-Za-z][A-Za-z'’\-]*){0,2})",
        re.I,
    ),
)
_OWN_NAME_PATTERNS = (
    re.compile(r"\bmy\s+name\s+is\s+(?P<rest>[^.;!?\n]+)", re.I),
    re.compile(r"\bname'?s\s+(?P<rest>[^.;!?\n]+)", re.I),
    re.compile(r"\b(?:i\s*'?\s*m|i\s+am|this\s+is|call\s+me)\s+(?P<rest>[^.;!?\n]+)", re.I),
)
# "I was COO at a fintech", "formerly VP Sales at Acme": a member between roles gives the last one.
_TITLE_LEAD = (
    r"^(?:i\s*'?\s*m\s+|i\s+am\s+|i\s+work\s+as\s+|working\s+as\s+|i\s+was\s+|i\s+used\s+to\s+be\s+|"
    r"(?:formerly|previously|most\s+recently)\s+)?(?:the\s+|an?\s+)?"
)
# Not working anywhere right now: stored as the company BETWEEN_ROLES, and the title asked for is
# the last one (found on the local stack: "I'm between jobs right now" got "Where do you work?" again).
BETWEEN_ROLES = "Between roles"
_BETWEEN_ROLES = re.compile(
    r"^(?:i\s*'?\s*m\s+|i\s+am\s+|currently\s+|right\s+now\s+|just\s+)*(?:between\s+(?:jobs|roles|gigs)|"
    r"in\s+(?:between\s+(?:jobs|roles)|transition)|not\s+working(?:\s+anywhere)?|unemployed|"
    r"on\s+(?:a\s+)?sabbatical|taking\s+(?:some\s+)?time\s+off|looking\s+for\s+my\s+next\s+(?:role|thing|job)|"
    r"nowhere(?:\s+(?:right\s+now|at\s+the\s+moment))?)\b",
    re.I,
)
# A question to the Bouncer ("why do you need that?", "how did you get my number?"): never an answer.
# A question asked without its "?": "why ...", "are you a bot", "can I talk to a human", "is this
# legit". Found on the local stack: "are you a bot" and "can I talk to a human", sent when the
# Bouncer asked who told them about this, were stored as the referrer. Only a pronoun after the
# verb, so a name ("Will Smith", "Can Yilmaz") is still a name.
_QUESTION_LEAD = re.compile(
    r"^(?:why|how\s+come|how\s+did|how\s+do\s+you|who\s+is\s+asking|(?:are|r)\s+(?:you|u|these|they)|"
    r"is\s+(?:this|it|that|there)|(?:can|could|may)\s+(?:i|you|u|we|someone)|"
    r"(?:do|does|did|will|would)\s+(?:you|u|i|it|this|that|they)|"
    r"what\s+(?:do|does|is|are|can|will|would)|how\s+(?:does|do|much|many|long|is|are|can))\b",
    re.I,
)
_TITLE_AT = re.compile(_TITLE_LEAD + r"(?P<title>.+)\s+(?:at|@)\s+(?P<company>.+)$", re.I)
_TITLE_COMMA = re.compile(_TITLE_LEAD + r"(?P<title>[^,]+),\s*(?P<company>[^,]+)$", re.I)
_TITLE_OF = re.compile(_TITLE_LEAD + r"(?P<title>.+?)\s+(?:of|for|with)\s+(?P<company>[^,]+)$", re.I)
_WORK_AT = re.compile(
    r"\b(?:i\s+)?(?:work|am|i'm)\s+(?:at|for|with)\s+(?P<company>[^.,;!?\n]+?)"
    r"(?:\s+as\s+(?:an?\s+|the\s+)?(?P<title>[^.,;!?\n]+))?\s*$",
    re.I,
)
# "I run operations at Stripe", "I lead sales for Acme": the company, and no title (what they run
# is not their title; the Bouncer still asks for it).
_LEAD_AT = re.compile(
    r"\bi\s+(?:run|lead|head(?:\s+up)?|manage|oversee)\s+[^.,;!?\n]+?\s+(?:at|for)\s+"
    r"(?P<company>[^.,;!?\n]+?)\s*$",
    re.I,
)
_COMPANY_PREFIX = re.compile(r"^(?:i\s+work\s+(?:at|for)|i'?m\s+(?:at|with)|company\s*(?:is|:)|at)\s+", re.I)
_TITLE_PREFIX = re.compile(
    r"^(?:i'?m\s+(?:the\s+|an?\s+)?|i\s+am\s+(?:the\s+|an?\s+)?|my\s+title\s+is\s+|title\s*:\s*|"
    r"i\s+work\s+as\s+(?:the\s+|an?\s+)?|(?:the\s+|an?\s+))",
    re.I,
)
_NOT_INTERESTED = re.compile(
    r"\b(?:not\s+interested|no\s+thanks?|no\s+thank\s+you|not\s+for\s+me|leave\s+me\s+alone|"
    r"don'?t\s+(?:want|need)\s+(?:this|it|to\s+join|in)|i'?ll\s+pass|i\s+pass|pass\s+on\s+(?:this|it)|"
    r"never\s*mind|nevermind|remove\s+me|not\s+anymore|no\s+longer\s+interested|i'?m\s+out|count\s+me\s+out|"
    r"close\s+(?:it|out\s+(?:my|the)\s+invite)\s*(?:out)?)\b",
    re.I,
)
_WHAT_IS_THIS = re.compile(
    r"\b(?:what\s*(?:'s|\s+is)\s+(?:this|that|it|yachtparty|yacht\s+party|going\s+on|this\s+about)|"
    r"what\s+do\s+you\s+(?:guys\s+)?do|who\s+(?:are\s+you|is\s+this)|what\s+are\s+you|"
    r"how\s+does\s+(?:this|it)\s+work|tell\s+me\s+(?:more|about\s+(?:it|this|yachtparty)))\b",
    re.I,
)


@dataclass(frozen=True)
class Extraction:
    """What one message told us. ``None`` means "not said"."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    referrer_name: str | None = None
    typed_emails: tuple[str, ...] = ()
    not_interested: bool = False
    asks_what_this_is: bool = False
    greeting_only: bool = False
    asks_question: bool = False  # a question to the Bouncer other than "what is this?"
    fields: tuple[str, ...] = field(default=())

    def captured(self) -> dict[str, str]:
        """The user's own fields found in the message (never the typed email)."""
        out = {}
        for name in REQUIRED_FIELDS:
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


def normalize_text(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\u2019", "'")).strip()


def typed_emails(text: str) -> tuple[str, ...]:
    return tuple(m.group(0) for m in _EMAIL.finditer(text))


def is_not_interested(text: str) -> bool:
    return bool(_NOT_INTERESTED.search(normalize_text(text)))


def asks_what_this_is(text: str) -> bool:
    return bool(_WHAT_IS_THIS.search(normalize_text(text)))


def is_greeting(text: str) -> bool:
    cleaned = re.sub(r"[^a-z' ?]", "", normalize_text(text).lower()).strip(" ?") or "?"
    return cleaned in _GREETINGS


def _tidy(value: str) -> str:
    value = normalize_text(value).strip(" .,;:!?\"'()[]-–—")
    value = re.sub(r"^(?:is|was|it'?s)\s+", "", value, flags=re.I)
    return value[:ONBOARDING_FIELD_MAX_CHARS].strip()


def _capitalize_name(token: str) -> str:
    if token.islower() or token.isupper():
        return "-".join(part[:1].upper() + part[1:].lower() for part in token.split("-"))
    return token


def _name_tokens(text: str) -> list[str] | None:
    """Tokens of a plausible personal name (1-5 words), or None."""
    cleaned = _tidy(re.sub(r"[,]", " ", text))
    cleaned = re.sub(r"\b(?:here|lol|thanks|thx)\b$", "", cleaned, flags=re.I).strip()
    tokens = cleaned.split()
    if not 1 <= len(tokens) <= 5:
        return None
    for token in tokens:
        if not _NAME_TOKEN.match(token):
            return None
        if token.lower() in _NOT_NAME_WORDS or token.lower() in _TITLE_WORDS:
            return None
        if token.lower().strip(".") in _COMPANY_WORDS:
            return None
    return [
        t for t in tokens if t.lower().strip(".") not in _NAME_SUFFIXES and t.lower() not in _NAME_SUFFIXES
    ]


def split_name(text: str) -> tuple[str | None, str | None]:
    """``"John Michael Smith"`` -> ("John", "Smith"); particles stay with the last name."""
    tokens = _name_tokens(text)
    if not tokens:
        return None, None
    tokens = [_capitalize_name(t) for t in tokens]
    if len(tokens) == 1:
        return tokens[0], None
    first = tokens[0]
    rest = tokens[1:]
    for i, token in enumerate(rest[:-1]):
        if token.lower() in _NAME_PARTICLES:
            return first, " ".join(t.lower() if t.lower() in _NAME_PARTICLES else t for t in rest[i:])
    return first, rest[-1]


def _looks_like_title(text: str) -> bool:
    words = re.findall(r"[a-z][a-z\-]*", text.lower())
    return bool(words) and words[0] not in {"i", "we", "my"} and any(w in _TITLE_WORDS for w in words)


def _looks_like_company(text: str) -> bool:
    return any(w in _COMPANY_WORDS for w in re.findall(r"[a-z]+", text.lower()))


def _referrer_from_text(text: str) -> str | None:
    """Who referred them: read in the whole text, else sentence by sentence ("CFO at Northwind. Maya
    Patel told me to text you": over the whole text the words before "told" run back past the
    sentence end and are no name)."""
    found = _referrer_in(text)
    if found is None:
        found = next((r for clause in _clauses(text) if (r := _referrer_in(clause)) is not None), None)
    return found


def _referrer_in(text: str) -> str | None:
    for pattern in _REFERRER_PATTERNS:
        match = pattern.search(text)
        if match:
            candidate = _tidy(match.group("name"))
            candidate = re.sub(r"^(?:my\s+)?(?:friend|colleague|buddy|boss)\s+", "", candidate, flags=re.I)
            if candidate.lower() in {
                "a friend",
                "friend",
                "someone",
                "somebody",
                "a colleague",
                "he",
                "she",
                "they",
                "it",
                "this",
            }:
                return candidate
            if _name_tokens(candidate):
                return " ".join(_capitalize_name(t) for t in candidate.split())
    return None


_SENTENCE_BREAK = r"(?<=[.!?;])\s+|\n+"  # after . ! ? ; or at a line break


def _clauses(text: str) -> list[str]:
    parts = re.split(
        _SENTENCE_BREAK + r"|,\s+(?=(?:i\s*'?\s*m|i\s+am|my|and\s+i|i\s+work)\b)", text, flags=re.I
    )
    return [p.strip(" .!?;") for p in parts if p.strip(" .!?;")]


def _title_company(clause: str) -> tuple[str | None, str | None]:
    """ "VP of Sales at Acme", "I work at Acme as a PM", "Head of Growth, Stripe", "CTO of Initech"."""
    clause = clause.strip()
    work = _WORK_AT.search(clause)
    if work:
        company = _tidy(work.group("company"))
        title = _tidy(work.group("title")) if work.group("title") else None
        return title or None, company or None
    lead = _LEAD_AT.search(clause)
    if lead:
        return None, _tidy(lead.group("company")) or None
    for pattern in (_TITLE_AT, _TITLE_COMMA, _TITLE_OF):
        match = pattern.match(clause)
        if match and _looks_like_title(match.group("title")) and not _name_tokens(match.group("title")):
            title = _tidy(_TITLE_PREFIX.sub("", match.group("title").strip()))
            company = _tidy(match.group("company"))
            if title and company and not _looks_like_title(company.split(",")[0]):
                return title, company
    return None, None


def _own_name_clause(own: str) -> dict[str, str]:
    """The words after "I'm" / "my name is": a name, maybe with title and company after it; or,
    "I'm at Acme Health as VP Finance" / "I'm with Acme", where they work."""
    if re.match(r"(?:at|with|for)\s", own, re.IGNORECASE):
        title, company = _title_company(f"I'm {own}")
        return {k: v for k, v in (("title", title), ("company", company)) if v}
    found: dict[str, str] = {}
    head, _, tail = own.partition(",")
    at_split = re.split(r"\s+(?:at|from|with|@)\s+", head, maxsplit=1, flags=re.I)
    first, last = split_name(at_split[0])
    if first:
        found["first_name"] = first
        if last:
            found["last_name"] = last
        if len(at_split) == 2 and _tidy(at_split[1]):
            title, company = _title_company(at_split[1])
            if title and company:
                found["title"], found["company"] = title, company
            else:
                found["company"] = _tidy(at_split[1])
    else:
        title, company = _title_company(own)
        if title:
            found["title"] = title
        if company:
            found["company"] = company
        if not found and _looks_like_title(head):
            found["title"] = _tidy(_TITLE_PREFIX.sub("", head))
        return found
    if tail.strip():
        found.update(_tail_fields(tail.strip()))
    return found


def _tail_fields(tail: str) -> dict[str, str]:
    title, company = _title_company(tail)
    out: dict[str, str] = {}
    if title:
        out["title"] = title
    if company:
        out["company"] = company
    if not out and _looks_like_title(tail):
        out["title"] = _tidy(_TITLE_PREFIX.sub("", tail))
    return out


_AT_COMPANY = re.compile(r"\s(?:at|@|with|from)\s", re.IGNORECASE)  # "CFO at Globex": the tail names one


def _read_clause(clause: str, expecting: Step | None = None) -> dict[str, str] | None:
    """Fields from one clause with a cue ("I'm", "at", "my name is", "Name, title"), or None.
    ``expecting``: the step last asked about; asked where they work, "Acme Health, VP Finance" is a
    company and a title even with no company word in it."""
    for pattern in _OWN_NAME_PATTERNS:
        match = pattern.search(clause)
        if match:
            return _own_name_clause(match.group("rest"))
    if "," in clause:  # "Jane Doe, CFO at Globex"
        head, tail = clause.split(",", 1)
        work_asked = expecting in (Step.ASK_COMPANY, Step.ASK_TITLE)
        if (
            (_looks_like_company(head) or (work_asked and not _looks_like_title(head)))
            and _looks_like_title(tail)
            and "," not in tail
            and not _AT_COMPANY.search(tail)
        ):  # "Acme Corp, VP Sales", "Acme Health, VP of Finance"
            return {"company": _tidy(head), "title": _tidy(_TITLE_PREFIX.sub("", tail.strip()))}
        first, last = split_name(head)
        fields = _tail_fields(tail.strip())
        if first and last and fields:
            return {"first_name": first, "last_name": last, **fields}
    title, company = _title_company(clause)
    if title or company:
        return {k: v for k, v in (("title", title), ("company", company)) if v}
    return None


def extract(text: str, expecting: Step | None) -> Extraction:
    """Read one message deterministically.

    ``expecting`` is the step the Bouncer's last message asked about (None before it has said
    anything): a clause with no cue words is read as that field.
    """
    raw = normalize_text(text)
    emails = typed_emails(raw)
    without_emails = normalize_text(_EMAIL.sub(" ", raw))
    found: dict[str, str] = {}
    referrer = _referrer_from_text(without_emails)
    unlabelled: list[str] = []
    questions = _questions(without_emails)

    for clause in _clauses(without_emails):
        if clause in questions:
            continue
        if any(p.search(clause) for p in _REFERRER_PATTERNS) and referrer:
            continue
        if _BETWEEN_ROLES.match(clause):
            found.setdefault("company", BETWEEN_ROLES)
            continue
        fields = _read_clause(clause, expecting)
        if fields is None:
            unlabelled.append(clause)
            continue
        for key, value in fields.items():
            found.setdefault(key, value)

    greeting = is_greeting(raw)
    for clause in unlabelled:
        if emails or is_greeting(clause) or _NOT_INTERESTED.search(clause):
            continue
        found, referrer = _bare_answer(_tidy(clause), expecting, found, referrer)
        break

    return Extraction(
        first_name=found.get("first_name"),
        last_name=found.get("last_name"),
        company=found.get("company"),
        title=found.get("title"),
        referrer_name=referrer,
        typed_emails=emails,
        not_interested=bool(_NOT_INTERESTED.search(raw)),
        asks_what_this_is=bool(_WHAT_IS_THIS.search(raw)),
        greeting_only=greeting,
        asks_question=any(not is_greeting(q) for q in questions) and not _WHAT_IS_THIS.search(raw),
        fields=tuple(sorted(found)),
    )


def _questions(text: str) -> set[str]:
    """The clauses of a message that ask something (as ``_clauses`` returns them, without the "?")."""
    asked: set[str] = set()
    for part in re.split(_SENTENCE_BREAK, text):
        clause = part.strip(" .!?;")
        if clause and (part.rstrip().endswith("?") or _QUESTION_LEAD.match(clause)):
            asked.update(_clauses(part))
    return asked


def _bare_answer(  # noqa: PLR0912 - one branch per field asked for
    bare: str, expecting: Step | None, found: dict[str, str], referrer: str | None
) -> tuple[dict[str, str], str | None]:
    """A short answer with no cue words: read it as whatever we last asked for."""
    if _WHAT_IS_THIS.search(bare) or bare.endswith("?"):
        return found, referrer
    if expecting is Step.ASK_REFERRER:
        tokens = _name_tokens(bare)
        if tokens:
            return found, " ".join(_capitalize_name(t) for t in tokens)
        if len(bare.split()) <= 6:
            return found, bare  # "a friend from work": kept raw as name_dropped
    elif expecting is Step.ASK_NAME:
        first, last = split_name(bare)
        if first:
            found["first_name"] = first
            if last:
                found["last_name"] = last
    elif expecting is Step.ASK_LAST_NAME:
        tokens = _name_tokens(bare)
        if tokens:
            first, last = split_name(bare)
            found["last_name"] = last if last else (first or "")
    elif expecting is Step.ASK_COMPANY:
        company = _tidy(_COMPANY_PREFIX.sub("", bare))
        if company and len(company.split()) <= 8:
            found["company"] = company
    elif expecting is Step.ASK_TITLE:
        title = _tidy(_TITLE_PREFIX.sub("", bare))
        if title and len(title.split()) <= 10:
            found["title"] = title
    return found, referrer


def apply(state: OnboardingState, extraction: Extraction, referrer_recorded: bool) -> OnboardingState:
    """The state after storing what was extracted (fields already set are kept)."""
    return replace(
        state,
        first_name=state.first_name or extraction.first_name,
        last_name=state.last_name or extraction.last_name,
        company=state.company or extraction.company,
        title=state.title or extraction.title,
        referrer_known=state.referrer_known or referrer_recorded,
        declined=state.declined or extraction.not_interested,
    )
