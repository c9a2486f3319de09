"""Rules of the three intro flows (agents.md §12; decisions B17, B20): pure, no I/O.

- the refusals every guarded transition answers with when it changed nothing (zero rows updated is
  a clear refusal, never a silent success);
- ``closed_status``: how a row still open by status but past its date reads to a member;
- the flows' names and the statuses a row waits in.
"""

from __future__ import annotations

INTRO_OPPORTUNITY = "intro_opportunity"
INTRO_OFFER = "intro_offer"
CONNECTION_REQUEST = "connection_request"
INTRO_KINDS = (INTRO_OPPORTUNITY, INTRO_OFFER, CONNECTION_REQUEST)

OPEN_STATUSES = ("open", "presented", "clarifying")  # opportunities and connection requests
OFFER_WAITING_STATUSES = ("pending_introducee_response", "pending_connector_confirmation")


# The +7-day check-in (agents.md §10, decisions B20): its opening words let the offline rules know that a
# member's "yes" or "no" answers it.
FOLLOWUP_OPENING = "Quick check-in on your intro"
FOLLOWUP_QUESTION = FOLLOWUP_OPENING + " with {name}: did you two meet? Reply yes or no."
# An intro offer joins its introducee to the person the connector offered, not to the connector:
# each side is asked about that meeting (found on the local stack, where the connector would have
# been asked whether she and the introducee met).
FOLLOWUP_OFFER_CONNECTOR = (
    FOLLOWUP_OPENING + " of {introducee} to {prospect}: did they meet? Reply yes or no."
)
FOLLOWUP_OFFER_INTRODUCEE = (
    FOLLOWUP_OPENING + " with {prospect}, through {connector}: did you meet? Reply yes or no."
)


class IntroRefused(Exception):
    """A transition that changed nothing; the message says why, and that nothing changed."""


class NotYours(IntroRefused, LookupError):
    """The id names no item addressed to the acting member (someone else's, or none at all)."""


class NotOpen(IntroRefused, ValueError):
    """The member's own item, but no longer waiting on this answer."""


def refusal(kind: str, status: str | None) -> IntroRefused:
    """The refusal for an item of ``kind`` the member answered: not theirs, or in ``status``."""
    label = kind.replace("_", " ")
    if status is None:
        return NotYours(f"no {label} addressed to this member has that id")
    return NotOpen(f"that {label} is {status.replace('_', ' ')}; nothing changed")


def closed_status(status: str) -> str:
    """A row still open by status but not answerable (expired by date) reads as expired."""
    return "expired" if status in OPEN_STATUSES or status in OFFER_WAITING_STATUSES else status
