"""SMS bodies and delivery states: segment counting, the 1,600-character rule, forward-only status.

Segments. A body that fits the GSM-7 alphabet costs one segment up to 160 septets (the
extension characters ``^{}\\[~]|€`` and form feed take two), and 153 per segment beyond
that. Anything else is sent as UCS-2: 70 UTF-16 code units in one segment, 67 per segment
beyond. An escape pair or a surrogate pair is never split across segments, as handsets do.

The 1,600-character rule. Twilio refuses bodies longer than 1,600 characters (counted in
UTF-16 code units, which is what its limit measures). Our rule: the one outbound path
splits a longer body on a word boundary (a paragraph break, else a line break, else a
space, never earlier than half the limit) into several messages delivered in order as one
sequence. Nothing is truncated. A row that reaches the sender over the limit anyway was
written around the outbound path; the sender marks it failed with a clear error rather
than sending a cut-off text.
"""

from __future__ import annotations

from shared.domain.constants import (
    SMS_GSM7_CONCAT_SEGMENT_CHARS,
    SMS_GSM7_SEGMENT_CHARS,
    SMS_MAX_BODY_CHARS,
    SMS_UCS2_CONCAT_SEGMENT_CHARS,
    SMS_UCS2_SEGMENT_CHARS,
)

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


def encoding(text: str) -> str:
    """GSM-7 when every character is in the GSM-7 alphabet (with extension), else UCS-2."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return GSM7
    return UCS2


def _units(text: str, enc: str) -> list[int]:
    """Per character: septets (GSM-7) or UTF-16 code units (UCS-2)."""
    if enc == GSM7:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _pack(units: list[int], per_segment: int) -> int:
    segments, used = 1, 0
    for size in units:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return segments


def count_segments(text: str) -> int:
    """How many SMS segments the carrier bills for this body (at least 1)."""
    enc = encoding(text)
    units = _units(text, enc)
    single, concat = (
        (SMS_GSM7_SEGMENT_CHARS, SMS_GSM7_CONCAT_SEGMENT_CHARS)
        if enc == GSM7
        else (SMS_UCS2_SEGMENT_CHARS, SMS_UCS2_CONCAT_SEGMENT_CHARS)
    )
    if sum(units) <= single:
        return 1
    return _pack(units, concat)


def body_length(text: str) -> int:
    """Length as Twilio's 1,600 limit counts it: UTF-16 code units."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def fits_one_message(text: str, limit: int = SMS_MAX_BODY_CHARS) -> bool:
    return body_length(text) <= limit


def _cut_index(text: str, limit: int) -> int:
    """The largest prefix length (in characters) whose UTF-16 length is within ``limit``."""
    used = 0
    for i, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def split_long_body(text: str, limit: int = SMS_MAX_BODY_CHARS) -> list[str]:
    """Split a body over ``limit`` into parts within it, on word boundaries; see the module doc."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    remaining = text
    while not fits_one_message(remaining, limit):
        cut = _cut_index(remaining, limit)
        window = remaining[:cut]
        boundary = -1
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= cut // 2:
                boundary = at
                break
        if boundary > 0:
            cut = boundary
        part = remaining[:cut].rstrip()
        if part:
            parts.append(part)
        remaining = remaining[cut:].lstrip()
    if remaining.strip():
        parts.append(remaining)
    return parts


# --- Delivery states (decisions B16) -------------------------------------------------------------

OUTBOUND_STATUSES = ("pending", "sending", "queued", "sent", "delivered", "failed", "undelivered", "blocked")
TERMINAL_STATUSES = frozenset({"delivered", "failed", "undelivered", "blocked"})
_RANK = {
    "pending": 0,
    "sending": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "failed": 4,
    "undelivered": 4,
    "blocked": 4,
}

# Twilio's MessageStatus vocabulary -> ours. 'sending' at Twilio means "handed to the
# carrier soon": for us that is still queued.
TWILIO_TO_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "partially_delivered": "sent",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
# Statuses of inbound messages; a status callback carrying them is not about our sends.
TWILIO_INBOUND_STATUSES = frozenset({"receiving", "received"})


class UnknownTwilioStatus(ValueError):
    pass


def status_from_twilio(twilio_status: str) -> str:
    try:
        return TWILIO_TO_STATUS[twilio_status.strip().lower()]
    except KeyError:
        raise UnknownTwilioStatus(f"unknown Twilio message status {twilio_status!r}") from None


def next_status(current: str, reported: str) -> str | None:
    """The status to move to, or None when ``reported`` would not move ``current`` forward."""
    if current in TERMINAL_STATUSES or current not in _RANK or reported not in _RANK:
        return None
    if _RANK[reported] <= _RANK[current]:
        return None
    return reported
