"""Record one inbound SMS (agents.md §0.2, decisions B14-B16).

One short transaction: find or create the user and their active conversation, store the
message, and either emit ``message.received`` for the user's agent or, for STOP / START /
HELP and for users who opted out, act on the keyword and store the message unrouted. The
agent never runs here; the webhook answers Twilio as soon as this commits.

Idempotent on MessageSid: Twilio's retry of the same message writes nothing new, and two
concurrent first messages from a new number end up with one user and one conversation
(``INSERT ... ON CONFLICT`` on the phone number and on the one-active-conversation index).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from shared.adapters.outbound import add_outbound_messages
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.constants import INBOUND_BODY_MAX_CHARS, MAX_MMS_MEDIA
from shared.domain.events import Event
from shared.domain.opt_out import HELP_TEXT, Keyword, classify
from shared.domain.phone import InvalidPhoneNumber, guess_timezone, normalize_e164
from shared.domain.priorities import INITIAL_SETUP_INBOUND_COUNT, has_goal_keywords
from shared.domain.sms import body_length, count_segments
from shared.logs import get_logger
from shared.service_layer.account_manager import request_review

log = get_logger(__name__)

CREATED_BY = "twilio_inbound"


@dataclass(frozen=True)
class InboundSms:
    from_number: str  # E.164
    body: str
    message_sid: str
    media_urls: list[str] = field(default_factory=list)


MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-fA-F]{32}$")
MAX_MEDIA_URL_CHARS = 2048


class InvalidInbound(ValueError):
    """The webhook's parameters do not describe an SMS we can store; ``status`` is 400 or 413."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def parse_inbound_form(params: Mapping[str, str]) -> InboundSms:
    """Twilio's inbound-message parameters -> InboundSms; raises InvalidInbound with the reason."""
    missing = [name for name in ("From", "Body", "MessageSid") if params.get(name) is None]
    if missing:
        raise InvalidInbound(f"missing parameter(s): {', '.join(missing)}")
    message_sid = params["MessageSid"].strip()
    if not MESSAGE_SID.match(message_sid):
        raise InvalidInbound("MessageSid is not a Twilio message SID")
    try:
        from_number = normalize_e164(params["From"])
    except InvalidPhoneNumber as exc:
        raise InvalidInbound(f"From is not a usable phone number: {exc.reason}") from None
    body = params["Body"]
    if "\x00" in body:
        raise InvalidInbound("Body contains a NUL character")
    if body_length(body) > INBOUND_BODY_MAX_CHARS:
        raise InvalidInbound(f"Body longer than {INBOUND_BODY_MAX_CHARS} characters", status=413)
    return InboundSms(
        from_number=from_number, body=body, message_sid=message_sid, media_urls=_media_urls(params)
    )


def _media_urls(params: Mapping[str, str]) -> list[str]:
    raw = params.get("NumMedia") or "0"
    try:
        count = int(raw)
    except ValueError:
        raise InvalidInbound("NumMedia is not a number") from None
    if not 0 <= count <= MAX_MMS_MEDIA:
        raise InvalidInbound(f"NumMedia must be between 0 and {MAX_MMS_MEDIA}")
    urls = []
    for i in range(count):
        url = params.get(f"MediaUrl{i}")
        if not url:
            raise InvalidInbound(f"MediaUrl{i} missing for NumMedia={count}")
        if len(url) > MAX_MEDIA_URL_CHARS or any(ord(c) < 0x20 or c == "\x7f" for c in url):
            raise InvalidInbound(f"MediaUrl{i} is not an http(s) URL")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # e.g. "http://[" (an unclosed IPv6 literal)
            raise InvalidInbound(f"MediaUrl{i} is not an http(s) URL") from None
        if parts.scheme not in ("https", "http") or not host:
            raise InvalidInbound(f"MediaUrl{i} is not an http(s) URL")
        urls.append(url)
    return urls


class Outcome(StrEnum):
    ROUTED = "routed"  # stored, message.received emitted
    KEYWORD = "keyword"  # STOP / START / HELP: acted on, stored unrouted
    OPTED_OUT = "opted_out"  # from an opted-out user: stored unrouted, nothing else
    DUPLICATE = "duplicate"  # MessageSid seen before: nothing written


@dataclass(frozen=True)
class InboundResult:
    outcome: Outcome
    user_id: UUID | None = None
    conversation_id: UUID | None = None
    message_id: UUID | None = None
    keyword: Keyword | None = None
    new_user: bool = False


def record_inbound_sms(sms: InboundSms, uow: PostgresUnitOfWork) -> InboundResult:
    with uow as tx:
        # A replayed MessageSid is caught by the message insert below (ON CONFLICT): no extra round trip.
        user = tx.users.upsert_by_phone(sms.from_number, timezone=guess_timezone(sms.from_number))
        user_id, conversation_id, opted_out = user.id, user.conversation_id, user.opted_out

        keyword = classify(sms.body, opted_out=opted_out)
        routed = keyword is None and not opted_out
        message_id = tx.messages.add_inbound(
            conversation_id=conversation_id,
            user_id=user_id,
            content=sms.body,
            message_sid=sms.message_sid,
            media_urls=list(sms.media_urls),
            num_segments=count_segments(sms.body) if sms.body else None,
            routed=routed,
        )
        if message_id is None:  # Twilio's retry of a MessageSid already stored: roll everything back
            log.info("replayed inbound SMS ignored", extra={"message_sid": sms.message_sid})
            return InboundResult(Outcome.DUPLICATE)

        if keyword is not None:
            _act_on_keyword(
                tx,
                keyword,
                user_id=user_id,
                conversation_id=conversation_id,
                message_id=message_id,
                opted_out=opted_out,
            )
            outcome = Outcome.KEYWORD
        elif opted_out:
            outcome = Outcome.OPTED_OUT
        else:
            tx.emit(
                Event(
                    event_type="message.received",
                    aggregate_type="user",
                    aggregate_id=user_id,
                    payload={
                        "user_id": str(user_id),
                        "conversation_id": str(conversation_id),
                        "message_id": str(message_id),
                        "message_sid": sms.message_sid,
                    },
                    created_by=CREATED_BY,
                )
            )
            if user.verified:
                _request_account_manager_review(tx, user_id, message_id, sms.body)
            outcome = Outcome.ROUTED
        tx.commit()

    result = InboundResult(
        outcome,
        user_id=user_id,
        conversation_id=conversation_id,
        message_id=message_id,
        keyword=keyword,
        new_user=user.created,
    )
    log.info(
        "inbound SMS recorded",
        extra={
            "outcome": str(outcome),
            "user_id": str(user_id),
            "message_id": str(message_id),
            "message_sid": sms.message_sid,
            "keyword": str(keyword) if keyword else None,
            "new_user": result.new_user,
            "media": len(sms.media_urls),
        },
    )
    return result


def _request_account_manager_review(
    tx: PostgresUnitOfWork, user_id: UUID, message_id: UUID, body: str
) -> None:
    """agents.md §6 inbound triggers, in the same commit as the message: ``initial_setup`` once the
    member has sent their 3rd text and the Account Manager has never run for them, and
    ``explicit_mention`` when the text carries goal keywords. ``request_review`` keeps one
    pending review per member and reason (deduped)."""
    now = datetime.now(UTC)
    if tx.messages.initial_setup_due(user_id, min_inbound=INITIAL_SETUP_INBOUND_COUNT):
        request_review(tx, user_id, trigger="initial_setup", now=now, message_id=message_id)
    if has_goal_keywords(body):
        request_review(tx, user_id, trigger="explicit_mention", now=now, message_id=message_id)


def _act_on_keyword(
    tx: PostgresUnitOfWork,
    keyword: Keyword,
    *,
    user_id: UUID,
    conversation_id: UUID,
    message_id: UUID,
    opted_out: bool,
) -> None:
    payload = {"user_id": str(user_id), "message_id": str(message_id), "source": "keyword"}
    if keyword is Keyword.OPT_OUT:
        if tx.users.set_opted_out(user_id):
            tx.emit(Event("user.opted_out", "user", user_id, payload, CREATED_BY))
    elif keyword is Keyword.OPT_IN:
        if tx.users.set_opted_in(user_id):
            tx.emit(Event("user.opted_in", "user", user_id, payload, CREATED_BY))
    elif keyword is Keyword.HELP and not opted_out:
        # Through the one outbound path, like every other SMS we send (decisions B14).
        add_outbound_messages(
            tx.messages, user_id=user_id, conversation_id=conversation_id, role="system", bodies=[HELP_TEXT]
        )
