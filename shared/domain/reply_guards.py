"""Deterministic checks on a rendered reply before it can be sent (agents.md §0.7, §0.8, §18).

A reply fails when it

- leaks JSON, code fences or tool-call syntax (``leaked_json``);
- names a tool or an internal field (``tool_name``);
- quotes the system prompt (``prompt_text``): eight or more consecutive words of it, except
  passages the agent declares quotable (the Bouncer's canned "what is Yachtparty" blurb);
- names a person absent from everything the model was given (``invented_name``): a run of
  capitalised words with a word that appears nowhere in the context, or a capitalised word
  right after "meet", "intro to", "connect you with" and the like;
- shows a verification address that is not exactly this user's (``verification_address``).

For members' agents (the Concierge and the Innovator: ``GuardContext.member_checks``), also when it

- names a company (or any proper noun) absent from the context (``invented_company``): "someone at
  Roku", "Vanta and Drata", "IBM": a capitalised word inside a sentence, a CamelCase or all-caps
  word anywhere, or a capitalised word after a company cue ("at", "from", "like", "such as"). A
  capitalised word that opens a sentence is an ordinary word unless one of those applies;
  ``ALLOWED_CAPITALISED`` holds product and business words (SMS, CRM, Q3, ...);
- states a number absent from the context (``invented_number``): "found 3 platforms", "45% of
  intros", "$20k". Not numbers: times of day (3pm, 10:30), dates (Dec 3, 12/3, 2026-12-03),
  durations (2 days, 24 hours, a 15-minute call), list markers ("1) ..."), and digits inside a URL,
  an email address, a phone number (``contact_detail``'s business) or a word (B2B, SOC2). A number
  the member wrote or a tool returned (a credits amount, a count) is in the context and passes;
  "3", "three" and "3k"/"3,000" match each other. Spelled counts (two to twelve, a dozen) count
  when they quantify results ("three vendors", "two experts");
- shows a URL that appears nowhere in what the model was given, tool results included (``unknown_url``);
- claims results or contact ("found 3 platforms", "I've contacted", "I reached out to") when no
  tool succeeded this turn, or a count that appears nowhere in the context (``unbacked_claim``);
- shows a phone number or email address other than the member's own (``contact_detail``;
  decisions B17: contact details only after both sides accept, and then through the queue);
- uses a hype word or superlative from ``HYPE_WORDS`` (``hype``; agents.md §0.7).

Pure functions, standard library only. The turn framework regenerates once on a failure,
then falls back to a safe template. ``calm_punctuation`` is not a check but a rewrite: the
turn framework replaces exclamation points with periods in every model-written reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PROMPT_LEAK_WORDS = 8  # consecutive words of the system prompt that count as a leak

_JSON_PATTERNS = (
    re.compile(r"```"),
    re.compile(r"\{\s*\"[A-Za-z_][\w ]*\"\s*:"),  # {"key":
    re.compile(r"\[\s*\{\s*\""),  # [{"
    re.compile(r"</?(?:tool|function|invoke|parameter|antml)[\w:_-]*[^>]*>", re.IGNORECASE),
    re.compile(r"\b(?:tool_use|tool_result|input_schema|tool_choice)\b", re.IGNORECASE),
)
INTERNAL_WORDS = frozenset(
    {
        "next_scenario",
        "make_decision",
        "tool_calls",
        "function_call",
        "system prompt",
        "system message",
        "re_engagement_check",
        "email_verified_acknowledgment",
        "agent_actions_log",
        "poc_agent_type",
    }
)
# Capitalised words that are not people: the product, greetings, calendar words, and so on.
ALLOWED_CAPITALISED = frozenset(
    {
        "yachtparty",
        "linkedin",
        "i",
        "hey",
        "hi",
        "hello",
        "thanks",
        "thank",
        "ok",
        "okay",
        "sure",
        "got",
        "great",
        "good",
        "sorry",
        "welcome",
        "no",
        "yes",
        "the",
        "a",
        "and",
        "or",
        "but",
        "what",
        "who",
        "when",
        "where",
        "why",
        "how",
        "just",
        "also",
        "so",
        "once",
        "if",
        "all",
        "your",
        "my",
        "we",
        "you",
        "it",
        "this",
        "that",
        "sms",
        "ceo",
        "cto",
        "cfo",
        "coo",
        "vp",
        "svp",
        "evp",
        "ai",
        # business vocabulary a reply may capitalise without naming anyone
        "api",
        "b2b",
        "b2c",
        "crm",
        "erp",
        "gtm",
        "hr",
        "kpi",
        "okr",
        "roi",
        "saas",
        "mvp",
        "pr",
        "seo",
        "ops",
        "q1",
        "q2",
        "q3",
        "q4",
        "h1",
        "h2",
        "eod",
        "asap",
        "fyi",
        "tbd",
        "eta",
        "utc",
        "faq",
        "series",
        "us",
        "usa",
        "uk",
        "eu",
        "emea",
        "apac",
        "latam",
        "mr",
        "ms",
        "mrs",
        "dr",
        "interested",
        "noted",
        "done",
        "while",
        "let",
        "happy",
        "re",
        "ps",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thurs",
        "fri",
        "sat",
        "sun",
    }
)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z'’\-]+(?:\s+[A-Z][a-z'’\-]+)+\b")
_INTRO_CUE = re.compile(
    r"\b(?:meet|introduce you to|intro(?:duction)? to|connect(?:ed)? you with|talk(?:ing)? to|"
    r"speak(?:ing)? with|spoke with|chat with|ping)\s+([A-Z][a-z'’\-]+)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")

# agents.md §0.7: no superlatives or hype. The one list; the guard and the prompts' tests read it.
HYPE_WORDS = frozenset(
    {
        "amazing",
        "awesome",
        "best-in-class",
        "exceptional",
        "exclusive",
        "extraordinary",
        "fantastic",
        "game-changer",
        "game-changing",
        "incredible",
        "phenomenal",
        "revolutionary",
        "spectacular",
        "stellar",
        "unbelievable",
        "unparalleled",
        "world-class",
        "thrilled",
        "excited",
    }
)
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"')]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|io|ai|co|net|org|app)/[^\s<>\"')]*",
    re.IGNORECASE,
)
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().\-]{8,}\d(?!\w)")
_RESULT_CLAIM = re.compile(
    r"\b(?:(?:i|we)(?:'ve| have)? (?:found|identified|shortlisted|located|lined up)\s+"
    r"(?P<count>\d+|two|three|four|five|several|a few)"
    r"|here are (?:the )?(?P<count2>\d+|two|three|four|five|a few|some) "
    r"(?:options|platforms|vendors|tools|people|experts))",
    re.IGNORECASE,
)
_CONTACT_CLAIM = re.compile(
    r"\b(?:i|we)(?:'ve| have)? (?:already )?(?:contacted|reached out to|spoken (?:to|with)|spoke (?:to|with)|"
    r"emailed|called|messaged|texted|introduced you|connected you|set up (?:a|an) (?:call|intro|meeting))",
    re.IGNORECASE,
)
# Tools whose success means someone was actually contacted on the member's behalf.
CONTACT_TOOLS = frozenset(
    {"offer_introduction", "request_connection", "accept_intro_opportunity", "accept_connection_request"}
)
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class GuardContext:
    tool_names: frozenset[str] = frozenset()
    system_prompt: str = ""
    quotable: Sequence[str] = ()  # passages of the prompt the reply may quote verbatim
    context_text: str = ""  # everything the model saw: profile, history, tool results
    verification_address: str | None = None  # this user's own verify-<token>@<domain>
    verify_domain: str | None = None  # the domain verification addresses live on
    extra_internal_words: frozenset[str] = field(default_factory=frozenset)
    member_checks: bool = False  # the Concierge's and Innovator's checks (URLs, claims, contacts, hype)
    acted: frozenset[str] = frozenset()  # tools that succeeded this turn
    own_contacts: frozenset[str] = frozenset()  # the member's own phone number and email


@dataclass(frozen=True)
class GuardViolation:
    kind: str
    detail: str


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _leaked_json(text: str) -> Iterable[GuardViolation]:
    for pattern in _JSON_PATTERNS:
        match = pattern.search(text)
        if match:
            yield GuardViolation("leaked_json", match.group(0)[:40])
            return


def _tool_names(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    lowered = text.lower()
    for name in sorted(ctx.tool_names | INTERNAL_WORDS | ctx.extra_internal_words):
        needle = name.lower()
        # "collect user info" leaks as much as collect_user_info; two-word names are too common
        spaced = needle.replace("_", " ") if needle.count("_") >= 2 else needle
        if any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", lowered) for n in {needle, spaced}):
            yield GuardViolation("tool_name", name)


def _prompt_text(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    if not ctx.system_prompt:
        return
    reply = _ngrams(_words(text), PROMPT_LEAK_WORDS)
    if not reply:
        return
    allowed: set[tuple[str, ...]] = set()
    for passage in ctx.quotable:
        allowed |= _ngrams(_words(passage), PROMPT_LEAK_WORDS)
    leaked = (reply & _ngrams(_words(ctx.system_prompt), PROMPT_LEAK_WORDS)) - allowed
    if leaked:
        yield GuardViolation("prompt_text", " ".join(sorted(leaked)[0]))


def _known_words(ctx: GuardContext) -> set[str]:
    known = set(_words(ctx.context_text)) | ALLOWED_CAPITALISED
    for passage in ctx.quotable:
        known |= set(_words(passage))
    return known


def _invented_names(text: str, ctx: GuardContext, seen: set[str]) -> Iterable[GuardViolation]:
    known = _known_words(ctx)
    for match in _CAPITALISED_RUN.finditer(text):
        tokens = [t.lower().strip("'’-") for t in match.group(0).split()]
        unknown = [t for t in tokens if t and t not in known and t.rstrip("s").rstrip("'’") not in known]
        if unknown and match.group(0) not in seen:
            seen.update([match.group(0), *match.group(0).split()])
            yield GuardViolation("invented_name", match.group(0))
    for match in _INTRO_CUE.finditer(text):
        name = match.group(1)
        if name.lower() not in known and name not in seen:
            seen.add(name)
            yield GuardViolation("invented_name", name)


def _verification_address(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    own = (ctx.verification_address or "").lower()
    domain = (ctx.verify_domain or "").lower()
    for address in _EMAIL.findall(text):
        lowered = address.lower().rstrip(".")
        local, _, host = lowered.partition("@")
        looks_like_verify = local.startswith("verify") or (domain and host == domain)
        if looks_like_verify and lowered != own:
            yield GuardViolation("verification_address", address)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _unknown_urls(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    known = ctx.context_text.lower()
    for url in _URL.findall(text):
        cleaned = url.rstrip(".,;:").lower()
        if cleaned not in known:
            yield GuardViolation("unknown_url", url[:80])


def _unbacked_claims(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    context_words = set(_words(ctx.context_text))
    for match in _RESULT_CLAIM.finditer(text):
        count = match.group("count") or match.group("count2")
        if not ctx.acted or (count and count.isdigit() and count not in context_words):
            yield GuardViolation("unbacked_claim", match.group(0)[:60])
    for match in _CONTACT_CLAIM.finditer(text):
        if not ctx.acted & CONTACT_TOOLS:
            yield GuardViolation("unbacked_claim", match.group(0)[:60])


def _contact_details(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    own_emails = {c.lower() for c in ctx.own_contacts if "@" in c}
    own_phones = {_digits(c)[-10:] for c in ctx.own_contacts if "@" not in c and _digits(c)}
    for address in _EMAIL.findall(text):
        if address.lower().rstrip(".") not in own_emails:
            yield GuardViolation("contact_detail", address)
    for number in _PHONE.findall(text):
        digits = _digits(number)
        if len(digits) >= 10 and digits[-10:] not in own_phones:
            yield GuardViolation("contact_detail", number.strip())


def _hype(text: str) -> Iterable[GuardViolation]:
    lowered = text.lower()
    for word in sorted(HYPE_WORDS):
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", lowered):
            yield GuardViolation("hype", word)


# --- companies and other proper nouns (member checks) -----------------------------------------------

_PROPER = re.compile(
    r"(?<![\w@/.])(?:\d*[A-Z][A-Za-z0-9&'’\-]*(?:\.(?:com|io|ai|co|net|org|app))?)(?![\w@/])"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\u2022\u2026]|---|\s[-–—]\s|[\"“(])\s*$")
_COMPANY_CUE = re.compile(
    r"\b(?:at|from|like|including|such as|called|named|via|using|try|vendors?|companies|firms?|"
    r"platforms?|tools?|providers?)\s+$",
    re.IGNORECASE,
)
_ORG_SUFFIX = frozenset({"inc", "labs", "corp", "llc", "ltd", "gmbh", "technologies", "software", "ventures"})


def _proper_unknown(token: str, known: set[str], lowered_context: str) -> bool:
    """Whether a capitalised token names something the context never mentioned."""
    word = re.split(r"['’]", token, maxsplit=1)[0].lower()
    if len(word) < 2 or word in ALLOWED_CAPITALISED or word in known:  # "option A or B"
        return False
    if "." in word:
        return word not in lowered_context
    parts = [p for p in word.split("-") if p]
    return not all(p in known or p in ALLOWED_CAPITALISED for p in parts)


def _shape_stands_out(token: str) -> bool:
    """CamelCase, all caps or digits: a name even at the start of a sentence."""
    body = re.split(r"['’]", token, maxsplit=1)[0]
    letters = [c for c in body if c.isalpha()]
    if len(letters) < 2:
        return False
    return body.isupper() or any(c.isupper() for c in body[1:]) or any(c.isdigit() for c in body)


def _invented_companies(text: str, ctx: GuardContext, seen: set[str]) -> Iterable[GuardViolation]:
    known = _known_words(ctx)
    lowered_context = ctx.context_text.lower()
    for match in _PROPER.finditer(text):
        token = match.group(0).rstrip("-'’")
        if token in seen or not _proper_unknown(token, known, lowered_context):
            continue
        before = text[: match.start()]
        following = text[match.end() :].split(None, 1)
        next_word = following[0].strip(".,;:!?").lower() if following else ""
        opens_sentence = bool(_SENTENCE_START.search(before))
        if (
            not opens_sentence
            or _shape_stands_out(token)
            or _COMPANY_CUE.search(before)
            or next_word in _ORG_SUFFIX
        ):
            seen.add(token)
            yield GuardViolation("invented_company", token)


# --- numbers (member checks) ----------------------------------------------------------------------------

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_NOT_A_NUMBER = (
    re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)", re.IGNORECASE),  # 3pm, 10:30 am
    re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"),  # 14:30
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # 2026-12-03
    re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"),  # 12/3, 12/3/26
    re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b", re.IGNORECASE),  # Dec 3
    re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?", re.IGNORECASE),  # 3 Dec
    re.compile(
        r"\b\d+(?:\.\d+)?(?:\s+|-)(?:business\s+)?(?:min(?:ute)?s?|hours?|hrs?|days?|weeks?|months?)\b",
        re.IGNORECASE,
    ),  # 2 days, a 15-minute call
    re.compile(r"(?m)^\s*\d{1,2}[.)]\s"),  # list markers
    re.compile(r"\b\d+(?:st|nd|rd|th)\b", re.IGNORECASE),  # ordinals
)
_NUMBER = re.compile(
    r"(?<![\w.,])[$€£]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?(k|m|mm|bn)\b)?(?![\w])",
    re.IGNORECASE,
)
NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "dozen": 12,
}
# What a spelled count quantifies when it claims results ("three vendors", "two experts").
RESULT_NOUNS = frozenset(
    {
        "platforms",
        "vendors",
        "tools",
        "providers",
        "solutions",
        "companies",
        "firms",
        "people",
        "experts",
        "members",
        "contacts",
        "candidates",
        "intros",
        "introductions",
        "matches",
        "leads",
        "prospects",
        "responses",
        "replies",
        "recommendations",
        "credits",
        "meetings",
        "calls",
        "connections",
    }
)
_SPELLED = re.compile(
    r"\b(" + "|".join(NUMBER_WORDS) + r")\s+([a-z-]+)(?:\s+([a-z]+))?\b",
    re.IGNORECASE,
)
_SCALE = {"k": 1_000, "m": 1_000_000, "mm": 1_000_000, "bn": 1_000_000_000}


def _values(match: re.Match[str]) -> set[str]:
    """A number's value as the context would show it: '20k' is '20000', '3,000' is '3000', '2.50' is '2.5'."""
    whole = match.group(1).replace(",", "")
    fraction = (match.group(2) or "").rstrip("0")
    base = f"{int(whole)}.{fraction}" if fraction else str(int(whole))
    scale = (match.group(3) or "").lower()
    return {str(round(float(base) * _SCALE[scale]))} if scale else {base}


def _blank(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    for pattern in patterns:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


# A clock time anywhere in the context, also inside an ISO timestamp ("T09:45:02.5Z"): its digits
# are a time, and never ground a number in the reply (a record created at 09:45 does not make
# "45%" known).
_CONTEXT_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?!\d)")


def _known_numbers(ctx: GuardContext) -> set[str]:
    context = _blank(ctx.context_text, (_URL, _EMAIL, _CONTEXT_CLOCK))
    known: set[str] = set()
    for match in _NUMBER.finditer(context):
        known |= _values(match)
    for word in _words(context):
        if word in NUMBER_WORDS:
            known.add(str(NUMBER_WORDS[word]))
    return known


def _invented_numbers(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    known = _known_numbers(ctx)
    scrubbed = _blank(text, (_URL, _EMAIL, _PHONE, *_NOT_A_NUMBER))
    reported: set[str] = set()
    for match in _NUMBER.finditer(scrubbed):
        if not _values(match) & known and match.group(0) not in reported:
            reported.add(match.group(0))
            yield GuardViolation("invented_number", match.group(0).strip())
    for match in _SPELLED.finditer(scrubbed):
        first, second = (match.group(2) or "").lower(), (match.group(3) or "").lower()
        if not {first, second} & RESULT_NOUNS or str(NUMBER_WORDS[match.group(1).lower()]) in known:
            continue
        words = match.group(0).split()  # "three (good) vendors"
        yield GuardViolation("invented_number", " ".join(words[:2] if first in RESULT_NOUNS else words))


_QUESTION_RUN = re.compile(r"[!?]*\?[!?]*")
_EXCLAMATION_RUN = re.compile(r"!+(\.*)")


def calm_punctuation(text: str) -> str:
    """agents.md §0.7: no exclamation points ("Great!!" -> "Great.", "Really?!" -> "Really?").

    Applied in code to every model-written reply of a point-of-contact agent, so the rule does not
    depend on the prompt being obeyed.
    """
    return _EXCLAMATION_RUN.sub(lambda m: m.group(1) or ".", _QUESTION_RUN.sub("?", text))


def check_reply(parts: Sequence[str], ctx: GuardContext) -> list[GuardViolation]:
    """Every violation found in the SMS parts of one reply (empty list: safe to send)."""
    text = "\n".join(parts)
    seen: set[str] = set()  # a name reported once, as a person or as a company
    return [
        *_leaked_json(text),
        *_tool_names(text, ctx),
        *_prompt_text(text, ctx),
        *_invented_names(text, ctx, seen),
        *_verification_address(text, ctx),
        *(
            [
                *_invented_companies(text, ctx, seen),
                *_invented_numbers(text, ctx),
                *_unknown_urls(text, ctx),
                *_unbacked_claims(text, ctx),
                *_contact_details(text, ctx),
                *_hype(text),
            ]
            if ctx.member_checks
            else []
        ),
    ]
