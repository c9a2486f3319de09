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


def _invented_names(text: str, ctx: GuardContext) -> Iterable[GuardViolation]:
    known = set(_words(ctx.context_text)) | ALLOWED_CAPITALISED
    for passage in ctx.quotable:
        known |= set(_words(passage))
    seen: set[str] = set()
    for match in _CAPITALISED_RUN.finditer(text):
        tokens = [t.lower().strip("'’-") for t in match.group(0).split()]
        unknown = [t for t in tokens if t and t not in known and t.rstrip("s").rstrip("'’") not in known]
        if unknown and match.group(0) not in seen:
            seen.update(match.group(0).split())
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
    return [
        *_leaked_json(text),
        *_tool_names(text, ctx),
        *_prompt_text(text, ctx),
        *_invented_names(text, ctx),
        *_verification_address(text, ctx),
        *(
            [
                *_unknown_urls(text, ctx),
                *_unbacked_claims(text, ctx),
                *_contact_details(text, ctx),
                *_hype(text),
            ]
            if ctx.member_checks
            else []
        ),
    ]
