"""Deliver outbound ``messages`` rows through Twilio: the only code that sends an SMS.

For each message:
1. One short transaction locks the recipient (``UserLock.ACCOUNT``, so concurrent sends to one
   user are counted correctly) and makes the guarded transition ``pending -> sending``; a second call for
   the same message finds nothing pending and sends nothing. In the same transaction the
   message is refused ('blocked', never sent) when the user opted out (decisions B15) or
   when the runaway guard trips (more than RUNAWAY_GUARD_MAX_SMS in RUNAWAY_GUARD_WINDOW,
   decisions B1), and failed when its body is over Twilio's limit (see domain/sms.py).
2. Outside any transaction, the Twilio call, retried on 429 / 5xx / refused connections
   with a small bounded backoff.
3. A second short transaction records the SID, Twilio's status, sent_at and segments, or
   the failure. Error 21610 (recipient unsubscribed at Twilio) opts the user out. The status
   callback URL carries the message id, so a callback that overtakes this step is still
   applied (it records the SID itself); this step then keeps the further-forward status.

Parts of a sequence go out in order: a part waits while an earlier part is unsent, and the
call that sends a part carries on with the next one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from shared.adapters.repositories.messages import Sendable
from shared.adapters.repositories.users import UserLock
from shared.adapters.twilio_sms import (
    GatewayError,
    SendResult,
    SmsGateway,
    status_callback_url,
)
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import (
    RUNAWAY_GUARD_MAX_SMS,
    RUNAWAY_GUARD_WINDOW,
    SEQUENCE_PART_DELAY,
    SMS_MAX_BODY_CHARS,
    SMS_PENDING_SWEEP_AFTER,
    SMS_PENDING_SWEEP_BATCH,
    SMS_SEND_BACKOFF,
    SMS_SEND_MAX_ATTEMPTS,
    TWILIO_ERROR_UNSUBSCRIBED,
)
from shared.domain.events import Event
from shared.domain.sms import count_segments, fits_one_message, status_from_twilio
from shared.logs import get_logger

log = get_logger(__name__)

Sleep = Callable[[float], None]
CREATED_BY = "sms_sender"


class SendOutcome(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    DEFERRED = "deferred"  # an earlier part of its sequence is not sent yet
    NOT_PENDING = "not_pending"  # someone else claimed it, or it was handled already
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class SendReport:
    message_id: UUID
    outcome: SendOutcome
    sid: str | None = None
    error: str | None = None


class InvalidSendRequest(ValueError):
    """The sender's request body is not a messages-insert webhook or a sweep."""


def parse_send_request(body: bytes) -> UUID | None:
    """The message id of a webhook call, or None for ``{"sweep": true}``."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidSendRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidSendRequest("body must be a JSON object")
    if data.get("sweep") is True:
        return None
    if data.get("table") != "messages" or data.get("type") != "INSERT":
        raise InvalidSendRequest('expected {"table": "messages", "type": "INSERT", ...} or {"sweep": true}')
    try:
        return UUID(str(data["record_id"]))
    except (KeyError, ValueError):
        raise InvalidSendRequest("record_id must be a message id (UUID)") from None


@dataclass(frozen=True)
class _Claim:
    phone_number: str
    body: str
    sequence_id: UUID | None
    sequence_position: int | None


def deliver_message(message_id: UUID, *, gateway: SmsGateway, sleep: Sleep = time.sleep) -> list[SendReport]:
    """Send one pending message (and the following parts of its sequence). Never sends twice."""
    gw = gateway
    reports: list[SendReport] = []
    current: UUID | None = message_id
    while current is not None:
        report, claim = _deliver_one(current, gw, sleep)
        reports.append(report)
        current = None
        if claim is not None and claim.sequence_id is not None and report.outcome != SendOutcome.DEFERRED:
            current = _next_part(claim)
            if current is not None and report.outcome == SendOutcome.SENT:
                sleep(SEQUENCE_PART_DELAY.total_seconds())
    return reports


def sweep_pending_messages(
    *, gateway: SmsGateway, sleep: Sleep = time.sleep, now: datetime | None = None
) -> list[SendReport]:
    """The safety net for lost webhooks: deliver outbound rows pending for too long."""
    cutoff = (now or datetime.now(UTC)) - SMS_PENDING_SWEEP_AFTER
    with PostgresUnitOfWork() as tx:
        stale = tx.messages.stale_pending(older_than=cutoff, limit=SMS_PENDING_SWEEP_BATCH)
    reports: list[SendReport] = []
    for stale_id in stale:
        reports.extend(deliver_message(stale_id, gateway=gateway, sleep=sleep))
    if stale:
        log.warning("sender sweep delivered stale pending messages", extra={"count": len(stale)})
    return reports


def _claim(message_id: UUID) -> tuple[SendReport | None, _Claim | None]:
    """Step 1: lock the user, check the guards, move pending -> sending (or -> blocked / failed)."""
    with PostgresUnitOfWork() as tx:
        recipient = tx.messages.recipient(message_id)
        if recipient is not None:
            tx.users.lock(recipient, UserLock.ACCOUNT)
        message = tx.messages.for_send(message_id)
        if message is None:
            return SendReport(message_id, SendOutcome.NOT_FOUND), None
        claim = _Claim(
            phone_number=message.phone_number,
            body=message.content,
            sequence_id=message.sequence_id,
            sequence_position=message.sequence_position,
        )
        if message.status != "pending":
            return SendReport(message_id, SendOutcome.NOT_PENDING), None
        if message.sequence_id is not None and tx.messages.earlier_part_unsent(
            message.sequence_id, message.sequence_position
        ):
            return SendReport(message_id, SendOutcome.DEFERRED), claim
        if not tx.messages.claim_for_sending(message_id):
            return SendReport(message_id, SendOutcome.NOT_PENDING), None

        refusal = _refusal(tx, message, claim)
        tx.commit()
        return refusal, claim


def _refusal(tx: PostgresUnitOfWork, message: Sendable, claim: _Claim) -> SendReport | None:
    message_id, user_id = message.id, message.user_id
    if message.opted_out:
        error = "recipient opted out"
        tx.messages.block(message_id, error_code=None, error_message=error)
        log.info(
            "outbound SMS blocked: user opted out",
            extra={"message_id": str(message_id), "user_id": str(user_id)},
        )
        return SendReport(message_id, SendOutcome.BLOCKED, error=error)
    recent = tx.messages.count_recent_outbound(
        user_id, excluding=message_id, since=datetime.now(UTC) - RUNAWAY_GUARD_WINDOW
    )
    if recent >= RUNAWAY_GUARD_MAX_SMS:
        error = (
            f"runaway guard: {recent} SMS to this user in the last "
            f"{int(RUNAWAY_GUARD_WINDOW.total_seconds() // 60)} minutes"
        )
        tx.messages.block(message_id, error_code=None, error_message=error)
        log.error(
            "outbound SMS blocked by the runaway guard",
            extra={"message_id": str(message_id), "user_id": str(user_id), "recent_sms": recent},
        )
        return SendReport(message_id, SendOutcome.BLOCKED, error=error)
    if not fits_one_message(claim.body):
        error = f"body longer than {SMS_MAX_BODY_CHARS} characters; write it through add_outbound_messages"
        tx.messages.fail(message_id, error_code=None, error_message=error, extra_attempts=0)
        log.error("outbound SMS failed: body over the limit", extra={"message_id": str(message_id)})
        return SendReport(message_id, SendOutcome.FAILED, error=error)
    return None


def _send_with_retries(
    gateway: SmsGateway, message_id: UUID, claim: _Claim, sleep: Sleep
) -> tuple[SendResult | GatewayError, int]:
    """Returns the result or the last error, and how many calls were made."""
    callback = status_callback_url(message_id)
    attempt = 0
    while True:
        attempt += 1
        try:
            return gateway.send(to=claim.phone_number, body=claim.body, status_callback=callback), attempt
        except GatewayError as exc:
            if not exc.retryable or attempt >= SMS_SEND_MAX_ATTEMPTS:
                return exc, attempt
            wait = SMS_SEND_BACKOFF[min(attempt - 1, len(SMS_SEND_BACKOFF) - 1)].total_seconds()
            log.warning(
                "Twilio send failed, retrying",
                extra={"attempt": attempt, "status": exc.status, "code": exc.code, "wait_seconds": wait},
            )
            sleep(wait)


def _deliver_one(message_id: UUID, gateway: SmsGateway, sleep: Sleep) -> tuple[SendReport, _Claim | None]:
    report, claim = _claim(message_id)
    if report is not None or claim is None:
        return report or SendReport(message_id, SendOutcome.NOT_PENDING), claim

    outcome, calls = _send_with_retries(gateway, message_id, claim, sleep)
    extra = calls - 1  # the claim counted the first attempt
    with PostgresUnitOfWork() as tx:
        if isinstance(outcome, SendResult):
            tx.messages.record_sent(
                message_id,
                message_sid=outcome.sid,
                status=_our_status(outcome.status),
                num_segments=outcome.num_segments or count_segments(claim.body),
                extra_attempts=extra,
            )
            tx.commit()
            log.info(
                "SMS handed to Twilio",
                extra={
                    "message_id": str(message_id),
                    "message_sid": outcome.sid,
                    "attempts": calls,
                    "sms_outcome": "accepted",  # the delivery-failure-rate alert counts these
                },
            )
            return SendReport(message_id, SendOutcome.SENT, sid=outcome.sid), claim

        error = outcome
        if error.code == TWILIO_ERROR_UNSUBSCRIBED:
            tx.messages.block(message_id, error_code=error.code, error_message=error.message)
            user_id = tx.messages.recipient(message_id)
            if user_id is not None and tx.users.set_opted_out(user_id):
                tx.emit(
                    Event(
                        "user.opted_out",
                        "user",
                        user_id,
                        {"user_id": str(user_id), "message_id": str(message_id), "source": "twilio_21610"},
                        CREATED_BY,
                    )
                )
            tx.commit()
            log.warning(
                "recipient unsubscribed at Twilio (21610): user opted out",
                extra={"message_id": str(message_id), "sms_outcome": "rejected"},
            )
            return SendReport(message_id, SendOutcome.BLOCKED, error=error.message), claim

        tx.messages.fail(
            message_id,
            error_code=error.code if error.code is not None else error.status,
            error_message=error.message,
            extra_attempts=extra,
        )
        tx.commit()
    log.error(
        "SMS send failed",
        extra={
            "message_id": str(message_id),
            "status": error.status,
            "code": error.code,
            "attempts": calls,
            "sms_outcome": "rejected",
        },
    )
    return SendReport(message_id, SendOutcome.FAILED, error=error.message), claim


def _our_status(twilio_status: str) -> str:
    try:
        status = status_from_twilio(twilio_status)
    except ValueError:
        return "queued"
    return status if status in ("queued", "sent", "delivered") else "queued"


def _next_part(claim: _Claim) -> UUID | None:
    assert claim.sequence_id is not None
    with PostgresUnitOfWork() as tx:
        return tx.messages.next_sequence_part(claim.sequence_id, claim.sequence_position)
