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
from shared.adapters.postgres import Sql
from shared.domain.events import Event
from shared.logs import get_logger
from shared.service_layer.unit_of_work import PostgresUnitOfWork

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
        user = uow.sql.one("bouncer_user_by_verification_token", token=token)
        if user is None:
            log.warning("verification email for an unknown token", extra={"shape": email.shape})
            return VerificationResult(Outcome.UNKNOWN_TOKEN)
        user_id = UUID(str(user["id"]))
        if user["email_verified"]:
            log.info("verification email for an already verified address", extra={"user_id": str(user_id)})
            return VerificationResult(Outcome.ALREADY_VERIFIED, user_id)
        uow.sql.one("bouncer_mark_email_verified", user_id=user_id, email=email.sender)
        conversation_id = _active_conversation(uow.sql, user_id)
        verified_at = datetime.now(UTC).isoformat()
        content = json.dumps(
            {"type": ACKNOWLEDGMENT_TYPE, "email": email.sender, "verified_at": verified_at}, sort_keys=True
        )
        message = uow.sql.one(
            "bouncer_insert_system_message", conversation_id=conversation_id, user_id=user_id, content=content
        )
        assert message is not None
        message_id = UUID(str(message["id"]))
        uow.sql.one(
            "bouncer_log_action",
            agent_type="bouncer",
            action_type="email_verified",
            user_id=user_id,
            context_id=message_id,
            context_type="message",
            input_data=json.dumps(
                {"shape": email.shape, "recipients": list(email.recipients), "message_id": email.message_id}
            ),
            output_data=json.dumps({"email": email.sender, "email_verified": True}),
            error=None,
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


def _active_conversation(sql: Sql, user_id: UUID) -> UUID:
    row = sql.one("bouncer_active_conversation", user_id=user_id)
    if row is None:
        row = sql.one("bouncer_open_conversation", user_id=user_id)
    if row is None:  # lost a race with another writer: it exists now
        row = sql.one("bouncer_active_conversation", user_id=user_id)
    assert row is not None
    return UUID(str(row["id"]))
