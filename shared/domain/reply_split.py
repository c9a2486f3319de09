"""Split a rendered reply into SMS parts (agents.md §0.5, decisions B1).

Call 2 separates SMS with a line holding only ``---``. The parser is tolerant: it also
accepts ``--- `` with trailing spaces, `` ---`` closing a line, em/en-dash runs
(``— — —``), ``___`` and ``===``. Pieces are trimmed and empty ones dropped. More than
``SPLIT_FALLBACK_OVER_PARTS`` pieces means the model misused the separator: fall back to the
unsplit text (separator lines become paragraph breaks, never sent as text). At most
``REPLY_MAX_PARTS`` parts go out (the tail is folded into the last one), and no part is longer
than one SMS body (``SMS_MAX_BODY_CHARS``): an overlong piece is cut at sentence boundaries.
"""

from __future__ import annotations

import re

from shared.domain.constants import REPLY_MAX_PARTS, SMS_MAX_BODY_CHARS, SPLIT_FALLBACK_OVER_PARTS

# A separator: a whole line of 3+ hyphens / underscores / equals signs or dashes (spaces allowed
# between dashes), or " ---" closing a line of text.
_SEPARATOR_LINE = re.compile(r"^[ \t]*(?:-{3,}|_{3,}|={3,}|[—–](?:[ \t]*[—–]){2,})[ \t]*$", re.MULTILINE)
_SEPARATOR_TAIL = re.compile(r"[ \t]+-{3,}[ \t]*$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def as_sentence(text: str) -> str:
    """``text`` ending as a sentence: a full stop added unless it ends with . ! ? or …"""
    text = text.strip()
    return text if text.endswith((".", "?", "!", "…")) else f"{text}."


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _pieces(text: str) -> list[str]:
    marked = _SEPARATOR_TAIL.sub("\n\x00", text)
    marked = _SEPARATOR_LINE.sub("\x00", marked)
    return [p.strip() for p in marked.split("\x00") if p.strip()]


def _unsplit(text: str) -> str:
    plain = _SEPARATOR_TAIL.sub("", text)
    plain = _SEPARATOR_LINE.sub("", plain)
    return _BLANK_RUNS.sub("\n\n", plain).strip()


def _fit(piece: str, limit: int) -> list[str]:
    """Cut a piece longer than one SMS body at sentence (else word) boundaries."""
    if len(piece) <= limit:
        return [piece]
    out: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(piece):
        rest = sentence
        while len(rest) > limit:  # one enormous sentence: cut at a word boundary
            cut = rest.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                out.append(current)
                current = ""
            out.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
        candidate = f"{current} {rest}".strip() if current else rest
        if len(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = rest
    if current:
        out.append(current)
    return [p for p in out if p]


def _fold(parts: list[str], max_parts: int, limit: int) -> list[str]:
    """Keep at most ``max_parts`` parts: fold the tail into the last one while it fits, else drop."""
    if len(parts) <= max_parts:
        return parts
    head, tail = parts[: max_parts - 1], parts[max_parts - 1 :]
    last = tail[0]
    for extra in tail[1:]:
        joined = f"{last}\n\n{extra}"
        if len(joined) > limit:
            break
        last = joined
    return [*head, last]


def split_reply(
    text: str,
    *,
    max_parts: int = REPLY_MAX_PARTS,
    fallback_over: int = SPLIT_FALLBACK_OVER_PARTS,
    limit: int = SMS_MAX_BODY_CHARS,
) -> list[str]:
    """The SMS bodies to send for one rendered reply, in order (empty list for an empty reply)."""
    normal = _normalise(text)
    if not normal:
        return []
    pieces = _pieces(normal)
    if len(pieces) > fallback_over:
        pieces = [_unsplit(normal)]
    fitted = [part for piece in pieces for part in _fit(piece, limit)]
    return _fold(fitted, max_parts, limit)
