"""Opt-out, opt-in and help keywords (decisions B15).

A keyword is the whole message (case, surrounding spaces and trailing punctuation ignored),
as carriers and Twilio treat them. On top of the single words we recognise plain-language
revocations ("stop texting me", "please unsubscribe me") anywhere in a short message: the
law treats any reasonable way of saying "stop" as a revocation, and a false positive costs
far less than texting someone who asked us not to.

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


OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
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
            r"\bstop\s+(?:texting|messaging|contacting|sending|spamming|bothering|emailing|calling)\b",
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

HELP_TEXT = (
    "Yachtparty: an invite-only network for senior professionals, by text. "
    "Questions: reply here or email support@yachtparty.xyz. "
    "Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out."
)


def _normalise(body: str) -> str:
    text = unicodedata.normalize("NFKC", body).replace("\u2019", "'")
    return text.strip(_EDGE_PUNCTUATION).casefold()


def classify(body: str, *, opted_out: bool) -> Keyword | None:
    """The keyword this message is, or None for an ordinary message."""
    word = _normalise(body)
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS or (opted_out and word in OPT_IN_WHEN_OPTED_OUT):
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    if len(word) <= REVOCATION_MAX_CHARS and _REVOCATIONS.search(word):
        return Keyword.OPT_OUT
    return None
