"""Reactions to a message ("tapbacks") that reach us as text.

An iPhone reacting to an SMS sends the reaction as a text of its own: ``Liked “Want me to
introduce you to Dana?”``, ``Disliked “…”``, ``Laughed at “…”``, ``Removed a like from “…”``,
and since iOS 18 ``Reacted 😂 to “…”``. Other phones copy the form. Read as words they are
neither an answer nor a question, and a reply to them is noise: the member only reacted.

``read_tapback`` recognises one; ``quotes`` tells whether it quotes a given message (the phone
may shorten a long one with an ellipsis). What a reaction means is the caller's: an approval or
a disapproval of a question just asked can stand for a yes or a no (``Tapback.yes_no``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Word forms: what each verb means as an answer (None: a reaction, not an answer).
_VERBS: dict[str, bool | None] = {
    "liked": True,
    "loved": True,
    "disliked": False,
    "laughed at": None,
    "emphasized": None,
    "emphasised": None,
    "questioned": None,
}
_YES_EMOJI = frozenset("\U0001f44d\U0001f44c\u2705\u2764")  # 👍 👌 ✅ ❤
_NO_EMOJI = frozenset("\U0001f44e\u274c")  # 👎 ❌
_MODIFIERS = frozenset("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff\ufe0f")  # skin tones, VS16

_OPEN = '\u201c"\u201e'  # “ " „
_CLOSE = '\u201d"'  # ” "
_QUOTED = rf"[{_OPEN}](?P<quoted>.*)[{_CLOSE}]"
_VERB_FORM = re.compile(
    rf"^(?P<verb>{'|'.join(re.escape(v) for v in _VERBS)})\s+{_QUOTED}$", re.IGNORECASE | re.DOTALL
)
_EMOJI_FORM = re.compile(rf"^reacted\s+(?P<emoji>\S{{1,8}})\s+to\s+{_QUOTED}$", re.IGNORECASE | re.DOTALL)
_REMOVED_FORM = re.compile(
    rf"^removed\s+(?:an?\s+)?\S.{{0,30}}?\s+from\s+{_QUOTED}$", re.IGNORECASE | re.DOTALL
)
_ELLIPSIS = re.compile(r"(?:\u2026|\.\.\.)$")
MIN_SHORTENED_CHARS = 10  # a shortened quote must keep this much of the message to match it
MAX_TAPBACK_CHARS = 2_000  # longer texts are messages, not reactions


@dataclass(frozen=True)
class Tapback:
    reaction: str  # the verb ("liked", "laughed at"), the emoji, or "removed"
    quoted: str  # the text reacted to, as the phone quoted it
    yes_no: bool | None  # an approval (True) or disapproval (False); None for any other reaction


def read_tapback(text: str) -> Tapback | None:
    """The reaction a text reports, or None when the text is a message of its own."""
    flat = text.strip()
    if not flat or len(flat) > MAX_TAPBACK_CHARS:
        return None
    if match := _VERB_FORM.match(flat):
        verb = " ".join(match.group("verb").lower().split())
        return Tapback(verb, match.group("quoted").strip(), _VERBS[verb])
    if match := _EMOJI_FORM.match(flat):
        emoji = match.group("emoji")
        core = set(emoji) - _MODIFIERS
        yes_no = True if core and core <= _YES_EMOJI else False if core and core <= _NO_EMOJI else None
        return Tapback(emoji, match.group("quoted").strip(), yes_no)
    if match := _REMOVED_FORM.match(flat):
        return Tapback("removed", match.group("quoted").strip(), None)
    return None


def _normal(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split()).casefold()


def quotes(tapback: Tapback, message: str) -> bool:
    """Whether ``tapback`` reacts to ``message`` (whole, or its start when the phone shortened it)."""
    quoted, whole = _normal(tapback.quoted), _normal(message)
    if quoted == whole:
        return True
    shortened = _ELLIPSIS.sub("", quoted).rstrip()
    return shortened != quoted and len(shortened) >= MIN_SHORTENED_CHARS and whole.startswith(shortened)
