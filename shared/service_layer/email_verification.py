"""The inbound verification email (agents.md §2.6, decisions B10, B11).

A user emails ``verify-<users.verification_token>@<VERIFY_EMAIL_DOMAIN>`` from their work
address. In one transaction this use case sets ``users.email`` (the sender) and
``email_verified``, inserts the inbound system message ``email_verified_acknowledgment``
(role 'system', direction 'inbound': never sendable), logs an ``agent_actions_log`` row and
emits ``user.email_verified``, which the dispatcher routes to the user's point-of-contact agent
(the Bouncer), whose normal turn acknowledges it and completes onboarding when all is in.

Never sets ``verified`` or ``poc_agent_type``: only an operator does (``approval.py``).
A second delivery of the same email (or any later email) changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from shared.adapters.email_parsing import InboundEmail, verification_address, verification_token
from shared.adapters.repositories import ActionRecord, UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain.events import Event
from shared.logs import get_logger

log = get_logger(__name__)

ACKNOWLEDGMENT_TYPE = "email_verified_acknowledgment"


class Outcome(StrEnum):
    VERIFIED = "verified"
    ALREADY_VERIFIED = "already_verified"
    NO_TOKEN = "no_token"  # noqa: S105 - an outcome name
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 - an outcome name


@dataclass(frozen=True)
class VerificationResult:
    outcome: Outcome
    user_id: UUID | None = None
    message_id: UUID | None = None


def address_for(token: str, domain: str) -> str:
    """The per-user verification address (B11): the token, never the user id."""
    return verification_address(token, domain)


def record_verification_email(
    email: InboundEmail,
    *,
    domain: str | None,
    uow_factory: Callable[[], PostgresUnitOfWork] = PostgresUnitOfWork,
) -> VerificationResult:
    token = verification_token(email, domain)
    if token is None:
        log.info("verification email without a verify- recipient", extra={"shape": email.shape})
        return VerificationResult(Outcome.NO_TOKEN)
    with uow_factory() as uow:
        user_id = uow.users.id_by_verification_token(token)
        if user_id is not None:
            uow.users.lock(user_id, UserLock.ACCOUNT)
        user = None if user_id is None else uow.users.get(user_id)
        if user is None:
            log.warning("verification email for an unknown token", extra={"shape": email.shape})
            return VerificationResult(Outcome.UNKNOWN_TOKEN)
        if user.email_verified:
            log.info("verification email for an already verified address", extra={"user_id": str(user.id)})
            return VerificationResult(Outcome.ALREADY_VERIFIED, user.id)
        user_id = user.id
        uow.users.mark_email_verified(user_id, email.sender)
        conversation_id = uow.conversations.active_or_open(user_id)
        verified_at = datetime.now(UTC).isoformat()
        content = json.dumps(
            {"type": ACKNOWLEDGMENT_TYPE, "email": email.sender, "verified_at": verified_at}, sort_keys=True
        )
        message_id = uow.messages.add_system_trigger(
            conversation_id=conversation_id, user_id=user_id, content=content
        ).id
        uow.actions.record(
            ActionRecord(
                agent_type="bouncer",
                action_type="email_verified",
                user_id=user_id,
                context_id=message_id,
                context_type="message",
                input_data={
                    "shape": email.shape,
                    "recipients": list(email.recipients),
                    "message_id": email.message_id,
                },
                output_data={"email": email.sender, "email_verified": True},
            )
        )
        uow.emit(
            Event(
                event_type="user.email_verified",
                aggregate_type="user",
                aggregate_id=user_id,
                payload={
                    "user_id": str(user_id),
                    "conversation_id": str(conversation_id),
                    "message_id": str(message_id),
                    "email": email.sender,
                    "verified_at": verified_at,
                },
                created_by="email_inbound",
            )
        )
        uow.commit()
    log.info("email verified", extra={"user_id": str(user_id), "shape": email.shape})
    return VerificationResult(Outcome.VERIFIED, user_id, message_id)
