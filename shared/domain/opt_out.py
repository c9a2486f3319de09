"""Opt-out, opt-in and help keywords (decisions B15).

A keyword is the whole message (case, surrounding spaces, punctuation and emoji ignored),
as carriers and Twilio treat them. An opt-out word wrapped only in courtesy words or repeated
("stop please", "please unsubscribe", "STOP STOP", "stop now thanks") is still that keyword, and
"revoke" is one too (the FCC's list of revocation words). On top of those we recognise
plain-language revocations ("stop texting me", "please unsubscribe me") anywhere in a short
message: the law treats any reasonable way of saying "stop" as a revocation, and a false
positive costs far less than texting someone who asked us not to.

"YES" opts back in only a user who is opted out; from anyone else it is an ordinary answer
and goes to the agent like any other message.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke"})
# Words that may surround an opt-out word without making the message about something else.
COURTESY_WORDS = frozenset(
    {"please", "pls", "plz", "now", "thanks", "thank", "you", "thx", "ty", "already", "asap"}
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
OPT_IN_WORDS = frozenset({"start", "unstop"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"yes"})
HELP_WORDS = frozenset({"help", "info"})

# Plain-language revocations are only looked for in short messages: a long message that
# happens to contain "stop sending" is a conversation, not a revocation.
REVOCATION_MAX_CHARS = 120

_ME = r"(?:me|us|this number)"
_REVOCATIONS = re.compile(
    r"|".join(
        (
            r"\b(?:stop|quit|cease)\s+(?:texting|messaging|contacting|sending|spamming|bothering|emailing|calling)\b",
            rf"\b(?:don'?t|do\s+not|never|no\s+more)\s+(?:text|message|contact|sms|spam)(?:ing)?\s+{_ME}\b",
            rf"\b(?:unsubscribe|remove|delete)\s+{_ME}\b",
            rf"\btake\s+{_ME}\s+off\b",
            rf"\bremove\s+{_ME}\s+from\b",
            r"\bopt\s*(?:me\s+)?out\b(?!\s+of\b)",
            r"\bleave\s+me\s+alone\b",
            r"\bno\s+more\s+(?:texts|messages|sms)\b",
        )
    ),
    re.IGNORECASE,
)

_EDGE_PUNCTUATION = " \t\r\n.!?,;:'\"()[]*-_~"

SUPPORT_EMAIL = "support@yachtparty.xyz"  # where a member reaches a person on the team
HELP_TEXT = (
    "Yachtparty: an invite-only network for senior professionals, by text. "
    f"Questions: reply here or email {SUPPORT_EMAIL}. "
    "Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out."
)


def _is_edge_noise(char: str) -> bool:
    """Punctuation, symbols (emoji included), spaces and format characters around a keyword."""
    return char in _EDGE_PUNCTUATION or unicodedata.category(char)[0] in "PSZC"


def _normalise(body: str) -> str:
    text = unicodedata.normalize("NFKC", body).replace("\u2019", "'")
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return text[start:end].casefold()


def _courteous_opt_out(text: str) -> bool:
    """An opt-out word with nothing around it but courtesy words and more opt-out words."""
    words = _WORD.findall(text)
    return (
        0 < len(words) <= 6
        and any(w in OPT_OUT_WORDS for w in words)
        and all(w in OPT_OUT_WORDS or w in COURTESY_WORDS for w in words)
    )


def classify(body: str, *, opted_out: bool) -> Keyword | None:
    """The keyword this message is, or None for an ordinary message."""
    word = _normalise(body)
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS or (opted_out and word in OPT_IN_WHEN_OPTED_OUT):
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    if _courteous_opt_out(word):
        return Keyword.OPT_OUT
    if len(word) <= REVOCATION_MAX_CHARS and _REVOCATIONS.search(word):
        return Keyword.OPT_OUT
    return None
