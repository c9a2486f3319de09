"""Apply a Twilio delivery-status callback (decisions B16): forward only, idempotent.

queued -> sent -> delivered, or failed / undelivered with Twilio's ErrorCode. A callback
that would move a message backwards, or repeats one already applied, changes nothing. Error
21610 on a callback opts the user out, as on a send.

A callback can overtake the sender: Twilio may post it before the sender has committed the
SID it got back. The sender's callback URL therefore carries ``?message_id=<our id>`` (signed
by Twilio with the rest of the URL), and a callback whose SID is unknown applies to that
message if its SID is not recorded yet, recording it; the sender then keeps the
further-forward status. A callback for a SID we cannot place at all (not ours) is
acknowledged and logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from shared.adapters.repositories.users import UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.alerts import OPTED_OUT_OUTCOME
from shared.domain.constants import TWILIO_ERROR_UNSUBSCRIBED
from shared.domain.events import Event
from shared.domain.sms import (
    TWILIO_INBOUND_STATUSES,
    TWILIO_TO_STATUS,
    next_status,
    status_from_twilio,
)
from shared.logs import get_logger

log = get_logger(__name__)

CREATED_BY = "twilio_status"


class StatusOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # replay, or an out-of-order callback that would move backwards
    UNKNOWN_SID = "unknown_sid"
    IGNORED = "ignored"  # an inbound-message status, not about our sends


@dataclass(frozen=True)
class StatusUpdate:
    message_sid: str
    twilio_status: str
    error_code: int | None = None
    error_message: str | None = None
    message_id: UUID | None = None  # from the callback URL's ?message_id= (our send put it there)


MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-fA-F]{32}$")
MAX_ERROR_MESSAGE_CHARS = 500
MAX_TWILIO_ERROR_CODE = 99_999  # Twilio's error codes are five digits; messages.error_code is an integer


class InvalidStatusCallback(ValueError):
    """The callback's parameters are missing or outside Twilio's vocabulary. Callers answer 400."""


def parse_status_form(params: Mapping[str, str], *, message_id: str | None = None) -> StatusUpdate:
    """Twilio's status-callback parameters (and the URL's ``message_id``) -> StatusUpdate."""
    sid = (params.get("MessageSid") or params.get("SmsSid") or "").strip()
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        raise InvalidStatusCallback("missing MessageSid or MessageStatus")
    if not MESSAGE_SID.match(sid):
        raise InvalidStatusCallback("MessageSid is not a Twilio message SID")
    if status not in TWILIO_TO_STATUS and status not in TWILIO_INBOUND_STATUSES:
        raise InvalidStatusCallback(f"unknown MessageStatus {status[:40]!r}")
    raw_code = (params.get("ErrorCode") or "").strip()
    try:
        code = int(raw_code) if raw_code else None
    except ValueError:
        raise InvalidStatusCallback("ErrorCode is not a number") from None
    if code is not None and not 0 <= code <= MAX_TWILIO_ERROR_CODE:
        raise InvalidStatusCallback(f"ErrorCode must be between 0 and {MAX_TWILIO_ERROR_CODE}")
    # Postgres text cannot hold NUL; the rest of the message is kept for the operator.
    message = (params.get("ErrorMessage") or "").replace("\x00", "").strip()[:MAX_ERROR_MESSAGE_CHARS] or None
    ours: UUID | None = None
    if message_id is not None:
        try:
            ours = UUID(message_id.strip())
        except ValueError:
            raise InvalidStatusCallback("message_id in the callback URL is not a message id") from None
    return StatusUpdate(
        message_sid=sid, twilio_status=status, error_code=code, error_message=message, message_id=ours
    )


def apply_delivery_status(update: StatusUpdate, uow: PostgresUnitOfWork) -> StatusOutcome:
    """Raises UnknownTwilioStatus (a ValueError) for a status outside Twilio's vocabulary."""
    if update.twilio_status.strip().lower() in TWILIO_INBOUND_STATUSES:
        return StatusOutcome.IGNORED
    reported = status_from_twilio(update.twilio_status)
    with uow as tx:
        if update.error_code == TWILIO_ERROR_UNSUBSCRIBED:
            # This callback writes the user too (the opt-out), so it locks as the sender does:
            # the user, then the message (one lock order everywhere). Any other callback
            # writes only the message and takes only its lock, which no cycle can include.
            recipient = tx.messages.callback_recipient(update.message_sid, update.message_id)
            if recipient is not None:
                tx.users.lock(recipient, UserLock.ACCOUNT)
        message = tx.messages.lock_by_sid(update.message_sid, update.message_id)
        if message is None:
            log.warning(
                "status callback for an unknown MessageSid", extra={"message_sid": update.message_sid}
            )
            return StatusOutcome.UNKNOWN_SID
        target = next_status(message.status, reported)
        if target is None:
            log.info(
                "status callback did not move the message forward",
                extra={"message_sid": update.message_sid, "current": message.status, "reported": reported},
            )
            return StatusOutcome.UNCHANGED
        failed = target in ("failed", "undelivered")
        tx.messages.apply_delivery_status(
            message.id,
            message_sid=update.message_sid,
            status=target,
            error_code=update.error_code if failed else None,
            error_message=update.error_message if failed else None,
        )
        if update.error_code == TWILIO_ERROR_UNSUBSCRIBED and tx.users.set_opted_out(message.user_id):
            tx.emit(
                Event(
                    "user.opted_out",
                    "user",
                    message.user_id,
                    {
                        "user_id": str(message.user_id),
                        "message_id": str(message.id),
                        "source": "twilio_21610",
                    },
                    CREATED_BY,
                )
            )
        tx.commit()
    log.info(
        "delivery status applied",
        extra={
            "message_sid": update.message_sid,
            "status": target,
            "error_code": update.error_code,
            # the delivery-failure-rate alert counts final outcomes (an opt-out is not a failure)
            **({"sms_outcome": _outcome(target, update.error_code)} if target in FINAL_OUTCOMES else {}),
        },
    )
    return StatusOutcome.APPLIED


FINAL_OUTCOMES = ("delivered", "undelivered", "failed")  # the statuses a callback logs as an outcome


def _outcome(target: str, error_code: int | None) -> str:
    """A failed or undelivered 21610 is the member's opt-out, logged as such (not a failure)."""
    if target != "delivered" and error_code == TWILIO_ERROR_UNSUBSCRIBED:
        return OPTED_OUT_OUTCOME
    return target
