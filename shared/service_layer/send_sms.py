"""Deliver outbound ``messages`` rows through Twilio: the only code that sends an SMS.

For each message:
1. One short transaction locks the recipient (``UserLock.ACCOUNT``, so concurrent sends to one
   user are counted correctly) and makes the guarded transition ``pending -> sending``; a second call for
   the same message finds nothing pending and sends nothing. In the same transaction the
   message is refused ('blocked', never sent) when the user opted out (decisions B15) or
   when the runaway guard trips (more than RUNAWAY_GUARD_MAX_SMS in RUNAWAY_GUARD_WINDOW,
   decisions B1), and failed when its body is over Twilio's limit (see domain/sms.py).
   The claim stamps ``claimed_at``: the start of a send lease (SMS_SEND_LEASE).
2. Outside any transaction, the Twilio call, retried on 429 / 5xx / refused connections
   with backoff and jitter, honouring Twilio's ``Retry-After``.
3. A second short transaction records the SID, Twilio's status, sent_at and segments, or
   the failure. Error 21610 (recipient unsubscribed at Twilio) opts the user out; any other
   permanent 4xx fails the row with Twilio's code. A transient error that outlasts this
   claim's tries gives the row back to ``pending`` for the sweep (up to
   SMS_MAX_TOTAL_ATTEMPTS tries in all, then ``failed``). A timeout after the request went out
   (Twilio may have accepted it) leaves the row ``sending``: reconciliation decides. The status
   callback URL carries the message id, so a callback that overtakes this step is still
   applied (it records the SID itself); this step then keeps the further-forward status.

Stranded rows: a sender that dies between 1 and 3 leaves the row ``sending``. Once its lease
has run out the sweep reconciles it (``reconcile_stranded``) before anything is resent: a
status callback that already placed the message (witness 1), or Twilio's message list holding
the exact body to that number since the row was written (witness 2), means Twilio has it and
it is never sent again. Only with neither witness does the row go back to ``pending`` and
through the claim (and its guards) again. The reasoning is in docs/sms.md.

Parts of a sequence go out in order: a part waits while an earlier part is unsent, and the
call that sends a part carries on with the next one.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from shared.adapters.repositories.messages import Reconcilable, Sendable
from shared.adapters.repositories.users import UserLock
from shared.adapters.twilio_sms import (
    GatewayError,
    SendResult,
    SmsGateway,
    TwilioMessage,
    status_callback_url,
)
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.alerts import OPTED_OUT_OUTCOME
from shared.domain.constants import (
    RUNAWAY_GUARD_MAX_SMS,
    RUNAWAY_GUARD_WINDOW,
    SEQUENCE_PART_DELAY,
    SMS_MAX_BODY_CHARS,
    SMS_MAX_TOTAL_ATTEMPTS,
    SMS_PENDING_SWEEP_AFTER,
    SMS_PENDING_SWEEP_BATCH,
    SMS_RECONCILE_CLOCK_SKEW,
    SMS_RECONCILE_LIST_LIMIT,
    SMS_RETRY_AFTER_MAX,
    SMS_SEND_BACKOFF,
    SMS_SEND_JITTER,
    SMS_SEND_LEASE,
    SMS_SEND_MAX_ATTEMPTS,
    SMS_SWEEP_START_WITHIN,
    TWILIO_ERROR_UNSUBSCRIBED,
)
from shared.domain.events import Event
from shared.domain.retry import while_time_left
from shared.domain.sms import count_segments, fits_one_message, status_from_twilio
from shared.logs import get_logger

log = get_logger(__name__)

Sleep = Callable[[float], None]
Jitter = Callable[[], float]  # a factor around 1.0 applied to each backoff wait
CREATED_BY = "sms_sender"


def default_jitter() -> float:
    return random.uniform(1.0 - SMS_SEND_JITTER, 1.0 + SMS_SEND_JITTER)


class SendOutcome(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    DEFERRED = "deferred"  # an earlier part of its sequence is not sent yet
    NOT_PENDING = "not_pending"  # someone else claimed it, or it was handled already
    NOT_FOUND = "not_found"
    RETRY_LATER = "retry_later"  # a transient error outlasted this claim's tries: pending again
    UNCERTAIN = "uncertain"  # Twilio may have it (timeout); left 'sending' for reconciliation
    RECONCILED = "reconciled"  # a stranded row Twilio had: recorded, not resent


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
    lease: datetime | None = None  # claimed_at of our claim
    attempts: int = 0  # tries so far, this claim's first included


def deliver_message(
    message_id: UUID, *, gateway: SmsGateway, sleep: Sleep = time.sleep, jitter: Jitter = default_jitter
) -> list[SendReport]:
    """Send one pending message (and the following parts of its sequence). Never sends twice."""
    gw = gateway
    reports: list[SendReport] = []
    current: UUID | None = message_id
    while current is not None:
        report, claim = _deliver_one(current, gw, sleep, jitter)
        reports.append(report)
        current = None
        if claim is not None and claim.sequence_id is not None and report.outcome != SendOutcome.DEFERRED:
            current = _next_part(claim)
            if current is not None and report.outcome == SendOutcome.SENT:
                sleep(SEQUENCE_PART_DELAY.total_seconds())
    return reports


def sweep_pending_messages(
    *,
    gateway: SmsGateway,
    sleep: Sleep = time.sleep,
    now: datetime | None = None,
    jitter: Jitter = default_jitter,
    clock: Callable[[], float] = time.monotonic,
) -> list[SendReport]:
    """The safety net: reconcile rows stranded in 'sending' past their lease, then deliver
    outbound rows pending for too long (lost webhooks, transient errors handed back). No row is
    started once ``SMS_SWEEP_START_WITHIN`` has passed on ``clock``: under Twilio throttling each
    row can take a minute and more, and a sweep cut off by its function's timeout reports no
    backlog. The rows left wait, untouched, for the next tick."""
    at = now or datetime.now(UTC)
    deadline = clock() + SMS_SWEEP_START_WITHIN.total_seconds()
    reports: list[SendReport] = []
    with PostgresUnitOfWork() as tx:
        stranded = tx.messages.stale_sending(older_than=at - SMS_SEND_LEASE, limit=SMS_PENDING_SWEEP_BATCH)
    reconciled = 0
    for stranded_id in while_time_left(stranded, deadline, clock):
        reports.extend(reconcile_stranded(stranded_id, gateway=gateway, sleep=sleep, now=at, jitter=jitter))
        reconciled += 1
    if reconciled:
        log.warning("sender sweep reconciled rows stranded in sending", extra={"count": reconciled})
    with PostgresUnitOfWork() as tx:
        stale = tx.messages.stale_pending(
            older_than=at - SMS_PENDING_SWEEP_AFTER, limit=SMS_PENDING_SWEEP_BATCH
        )
    delivered = 0
    for stale_id in while_time_left(stale, deadline, clock):
        reports.extend(deliver_message(stale_id, gateway=gateway, sleep=sleep, jitter=jitter))
        delivered += 1
    if delivered:
        log.warning("sender sweep delivered stale pending messages", extra={"count": delivered})
    left = len(stranded) - reconciled + len(stale) - delivered
    if left:
        log.warning(
            "sender sweep ran out of time: rows left for the next tick",
            extra={"left": left, "start_within_seconds": SMS_SWEEP_START_WITHIN.total_seconds()},
        )
    return reports


def reconcile_stranded(
    message_id: UUID,
    *,
    gateway: SmsGateway,
    sleep: Sleep = time.sleep,
    now: datetime | None = None,
    jitter: Jitter = default_jitter,
) -> list[SendReport]:
    """Settle a row left 'sending' past its lease: record what Twilio has, resend only with no witness.

    Witness 1: a status callback already placed the message (it records the SID and moves the
    status on; the callback URL carries our message id). Witness 2: Twilio's message list to
    this number (and from our number), sent since the row was written, holds the exact body
    under a SID none of our rows owns. Either means Twilio has the message: record it, never
    resend. Neither: give the row back to 'pending' and deliver it through the claim again.
    """
    at = now or datetime.now(UTC)
    taken = _take_over_lease(message_id, at)
    if isinstance(taken, SendReport):
        return [taken]
    row, lease = taken

    since = row.created_at - SMS_RECONCILE_CLOCK_SKEW
    try:
        listed = gateway.sent_messages(to=row.phone_number, sent_after=since, limit=SMS_RECONCILE_LIST_LIMIT)
    except GatewayError as exc:
        # No answer is no witness either way: keep the row (under our renewed lease); the next
        # sweep after the lease asks again. Never resend on an unanswered question.
        log.warning(
            "cannot read Twilio's message list; stranded SMS left for the next sweep",
            extra={"message_id": str(message_id), "status": exc.status, "code": exc.code},
        )
        return [SendReport(message_id, SendOutcome.UNCERTAIN, error=exc.message)]
    candidates = [m for m in listed if _same_message(m, row.phone_number, row.content, since)]

    settled = _settle_from_list(message_id, candidates, lease, at)
    if settled is not None:
        return [settled]
    log.warning(
        "stranded SMS has no witness at Twilio: sending it again",
        extra={"message_id": str(message_id), "witness": "none"},
    )
    return deliver_message(message_id, gateway=gateway, sleep=sleep, jitter=jitter)


def _take_over_lease(message_id: UUID, at: datetime) -> tuple[Reconcilable, datetime] | SendReport:
    """Witness 1, then take the stranded row's lease (one reconciler at a time)."""
    with PostgresUnitOfWork() as tx:
        row = _lock_reconcilable(tx, message_id)
        if row is None:
            return SendReport(message_id, SendOutcome.NOT_FOUND)
        if row.status != "sending" or row.message_sid is not None:
            log.info(
                "stranded SMS already placed by a status callback: not resent",
                extra={"message_id": str(message_id), "status": row.status, "witness": "callback"},
            )
            return SendReport(message_id, SendOutcome.RECONCILED, sid=row.message_sid)
        if row.claimed_at is not None and row.claimed_at > at - SMS_SEND_LEASE:
            return SendReport(message_id, SendOutcome.NOT_PENDING)  # its sender may still be at work
        lease = tx.messages.renew_lease(message_id, lease=row.claimed_at)
        if lease is None:
            return SendReport(message_id, SendOutcome.NOT_PENDING)
        tx.commit()
    return row, lease


def _settle_from_list(
    message_id: UUID, candidates: list[TwilioMessage], lease: datetime, at: datetime
) -> SendReport | None:
    """Witness 2 (or a late witness 1): record what Twilio has. None: no witness, row pending again."""
    with PostgresUnitOfWork() as tx:
        current = _lock_reconcilable(tx, message_id)
        if current is None:
            return SendReport(message_id, SendOutcome.NOT_FOUND)
        if current.status != "sending" or current.message_sid is not None:
            return SendReport(message_id, SendOutcome.RECONCILED, sid=current.message_sid)
        owned = tx.messages.known_sids([m.sid for m in candidates]) if candidates else set()
        free = sorted(
            (m for m in candidates if m.sid not in owned),
            key=lambda m: m.date_created or m.date_sent or at,
        )
        if free:
            found = free[0]
            status = _reconciled_status(found.status)
            tx.messages.record_reconciled(
                message_id,
                message_sid=found.sid,
                status=status,
                error_code=found.error_code if status in ("failed", "undelivered") else None,
                sent_at=found.date_sent,
            )
            tx.commit()
            log.warning(
                "stranded SMS found in Twilio's message list: recorded, not resent",
                extra={"message_id": str(message_id), "message_sid": found.sid, "witness": "twilio_list"},
            )
            return SendReport(message_id, SendOutcome.RECONCILED, sid=found.sid)
        if not tx.messages.release_claim(message_id, lease=lease):
            return SendReport(message_id, SendOutcome.NOT_PENDING)
        tx.commit()
    return None


def _lock_reconcilable(tx: PostgresUnitOfWork, message_id: UUID) -> Reconcilable | None:
    tx.users.lock_recipient(message_id, UserLock.ACCOUNT)  # one lock order: the user, then the message
    return tx.messages.lock_for_reconcile(message_id)


def _same_message(listed: TwilioMessage, phone_number: str, body: str, since: datetime) -> bool:
    """Twilio's record is this message: same recipient, the exact body, not older than the row."""
    if listed.to != phone_number or listed.body != body:
        return False
    created = listed.date_created or listed.date_sent
    return created is None or created >= since


def _reconciled_status(twilio_status: str) -> str:
    try:
        status = status_from_twilio(twilio_status)
    except ValueError:
        return "queued"
    return status if status in ("queued", "sent", "delivered", "failed", "undelivered") else "queued"


def _claim(message_id: UUID) -> tuple[SendReport | None, _Claim | None]:
    """Step 1: lock the user, check the guards, move pending -> sending (or -> blocked / failed)."""
    with PostgresUnitOfWork() as tx:
        tx.users.lock_recipient(message_id, UserLock.ACCOUNT)
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
        claimed = tx.messages.claim_for_sending(message_id)
        if claimed is None:
            return SendReport(message_id, SendOutcome.NOT_PENDING), None
        claim = _Claim(
            phone_number=claim.phone_number,
            body=claim.body,
            sequence_id=claim.sequence_id,
            sequence_position=claim.sequence_position,
            lease=claimed.claimed_at,
            attempts=claimed.attempts,
        )

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
        log.error(
            "outbound SMS failed: body over the limit",
            # the member gets nothing: the delivery-failure alert counts it, as ``ops status`` does
            extra={"message_id": str(message_id), "sms_outcome": "rejected"},
        )
        return SendReport(message_id, SendOutcome.FAILED, error=error)
    return None


def backoff_wait(attempt: int, retry_after: float | None, jitter: Jitter) -> float | None:
    """Seconds to wait after failed try ``attempt`` (1-based): Twilio's Retry-After when it gave
    one (None when that is longer than SMS_RETRY_AFTER_MAX: hand the row to the sweep), else the
    base backoff times a jitter factor (so a burst of senders does not retry in lockstep)."""
    if retry_after is not None:
        return retry_after if retry_after <= SMS_RETRY_AFTER_MAX.total_seconds() else None
    base = SMS_SEND_BACKOFF[min(attempt - 1, len(SMS_SEND_BACKOFF) - 1)]
    return (base * jitter()).total_seconds() if base > timedelta(0) else 0.0


def _send_with_retries(
    gateway: SmsGateway, message_id: UUID, claim: _Claim, sleep: Sleep, jitter: Jitter
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
            wait = backoff_wait(attempt, exc.retry_after, jitter)
            if wait is None:
                return exc, attempt
            log.warning(
                "Twilio send failed, retrying",
                extra={
                    "attempt": attempt,
                    "status": exc.status,
                    "code": exc.code,
                    "wait_seconds": wait,
                    "retry_after": exc.retry_after,
                },
            )
            sleep(wait)


def _deliver_one(
    message_id: UUID, gateway: SmsGateway, sleep: Sleep, jitter: Jitter
) -> tuple[SendReport, _Claim | None]:
    report, claim = _claim(message_id)
    if report is not None or claim is None:
        return report or SendReport(message_id, SendOutcome.NOT_PENDING), claim

    outcome, calls = _send_with_retries(gateway, message_id, claim, sleep, jitter)
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
                extra={"message_id": str(message_id), "sms_outcome": OPTED_OUT_OUTCOME},
            )
            return SendReport(message_id, SendOutcome.BLOCKED, error=error.message), claim

        if error.ambiguous:
            # Twilio may have accepted it: no second call now. The row stays 'sending' under
            # its lease; reconciliation (witnesses, docs/sms.md) settles it after the lease.
            log.warning(
                "Twilio's answer was lost; SMS left for reconciliation",
                extra={"message_id": str(message_id), "attempts": calls, "error": error.message},
            )
            return SendReport(message_id, SendOutcome.UNCERTAIN, error=error.message), claim

        code = error.code if error.code is not None else error.status
        if error.retryable and claim.attempts + extra < SMS_MAX_TOTAL_ATTEMPTS:
            if tx.messages.release_claim(
                message_id,
                lease=claim.lease,
                extra_attempts=extra,
                error_code=code,
                error_message=error.message,
            ):
                tx.commit()
            log.warning(
                "Twilio still failing; SMS handed back to the sweep",
                extra={
                    "message_id": str(message_id),
                    "status": error.status,
                    "code": error.code,
                    "attempts": claim.attempts + extra,
                },
            )
            return SendReport(message_id, SendOutcome.RETRY_LATER, error=error.message), claim

        tx.messages.fail(message_id, error_code=code, error_message=error.message, extra_attempts=extra)
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
