"""Operator approval: the only way a user becomes ``verified`` (agents.md §2.7, decisions B10).

``approve`` sets ``verified``, switches ``poc_agent_type`` to the Concierge or the Innovator,
marks ``approval_status='approved'``, creates the ``innovators`` row when approving an
innovator and publishes ``user.verified``, all in one unit of work. ``reject`` closes the
door politely (one short message, queued for the orchestrator like every proactive message,
no further follow-ups); ``hold`` parks the user.

Used by the ops CLI (``python -m tools.ops approve ...``) and the IAM-protected ``admin``
function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared import registry
from shared.adapters.queue_messages import queue_message
from shared.adapters.repositories import ActionRecord, User, UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.bouncer.tools import cancel_followups
from shared.domain.events import Event
from shared.domain.phone import InvalidPhoneNumber, normalize_e164
from shared.logs import get_logger
from shared.service_layer.prospects import schedule_upgrade_check

log = get_logger(__name__)

APPROVE_AS: tuple[str, ...] = registry.approvable_poc_keys()
PENDING_LIST_LIMIT = 200
REJECTION_MESSAGE = (
    "Thanks for your patience. We can't offer you a spot right now, so I'm closing out this invite."
)


class ApprovalError(Exception):
    """A decision that cannot be made; the message says why (CLI prints it, admin answers 4xx)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Decision:
    user_id: UUID
    phone_number: str
    approval_status: str
    poc_agent_type: str
    changed: bool  # False: the same decision was made before (idempotent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": str(self.user_id),
            "phone_number": self.phone_number,
            "approval_status": self.approval_status,
            "poc_agent_type": self.poc_agent_type,
            "changed": self.changed,
        }


UowFactory = Callable[[], PostgresUnitOfWork]


def _phone(raw: str) -> str:
    try:
        return normalize_e164(raw)
    except InvalidPhoneNumber as exc:
        raise ApprovalError(f"not a phone number: {exc.reason}") from None


def _lock(uow: PostgresUnitOfWork, phone: str) -> User:
    """The user with this phone number, locked for the decision (the user lock, account scope)."""
    user_id = uow.users.id_by_phone(phone)
    if user_id is not None:
        uow.users.lock(user_id, UserLock.ACCOUNT)
    user = None if user_id is None else uow.users.get(user_id)
    if user is None:
        raise ApprovalError(f"no user with phone number {phone}", status=404)
    return user


def approve(
    phone: str,
    as_: str,
    *,
    operator: str,
    uow_factory: UowFactory = PostgresUnitOfWork,
    now: datetime | None = None,
) -> Decision:
    """Approve a user as a Concierge member or an Innovator; publishes ``user.verified`` and queues
    the welcome from their new point of contact (issue 16 §3)."""
    at = now or datetime.now(UTC)
    if as_ not in APPROVE_AS:
        raise ApprovalError(f"--as must be one of {', '.join(APPROVE_AS)}, not {as_!r}")
    e164 = _phone(phone)
    with uow_factory() as uow:
        user = _lock(uow, e164)
        user_id = user.id
        if user.verified and user.poc_agent_type == as_:
            return Decision(user_id, e164, "approved", as_, changed=False)
        approved = uow.users.approve(user_id, as_)
        assert approved
        if as_ == "innovator":
            uow.innovators.add(
                user_id,
                user.company or f"{user.first_name or ''} {user.last_name or ''}".strip() or "unknown",
            )
        cancel_followups(uow, user_id, reason="approved")
        uow.emit(
            Event(
                event_type="user.verified",
                aggregate_type="user",
                aggregate_id=user_id,
                payload={
                    "user_id": str(user_id),
                    "poc_agent_type": as_,
                    "verification_completed_at": at.isoformat(),
                    "approved_by": operator,
                },
                created_by=f"operator:{operator}",
            )
        )
        if not user.opted_out:
            _queue_welcome(uow, user_id, as_, at)
        # agents.md §2.8: the prospect upgrade runs as the Intro agent's task, so it never fails approval.
        schedule_upgrade_check(uow, user_id, at, created_by=f"operator:{operator}")
        _log_decision(uow, user_id, "approved", operator, {"poc_agent_type": as_})
        uow.commit()
    log.info("user approved", extra={"user_id": str(user_id), "poc_agent_type": as_, "operator": operator})
    return Decision(user_id, e164, "approved", as_, changed=True)


def reject(phone: str, *, operator: str, uow_factory: UowFactory = PostgresUnitOfWork) -> Decision:
    """Reject: approval_status 'rejected', a polite close, no further follow-ups."""
    e164 = _phone(phone)
    with uow_factory() as uow:
        user = _lock(uow, e164)
        user_id = user.id
        if user.verified:
            raise ApprovalError(
                "this user is already approved; rejecting a member is not supported", status=409
            )
        if user.approval_status == "rejected":
            return Decision(user_id, e164, "rejected", user.poc_agent_type, changed=False)
        uow.users.set_approval_status(user_id, "rejected")
        cancel_followups(uow, user_id, reason="rejected")
        conversation = uow.conversations.latest_for_user(user_id)
        if conversation is not None and not user.opted_out:
            # Proactive (issue 8 §5): the orchestrator holds it out of quiet hours and budgets it,
            # unless the member texted in the last 10 minutes. A decision never goes stale.
            queue_message(
                uow,
                user_id=user_id,
                agent_id="bouncer",
                now=datetime.now(UTC),
                parts=[REJECTION_MESSAGE],
                message_data={"kind": "rejection"},
                priority="high",
                can_delay=False,
                requires_fresh_context=False,
                conversation_id=conversation.id,
            )
            uow.conversations.set_status(conversation.id, "closed")
        _log_decision(uow, user_id, "rejected", operator, {})
        uow.commit()
    log.info("user rejected", extra={"user_id": str(user_id), "operator": operator})
    return Decision(user_id, e164, "rejected", user.poc_agent_type, changed=True)


def hold(phone: str, *, operator: str, uow_factory: UowFactory = PostgresUnitOfWork) -> Decision:
    """Put a user on hold: approval_status 'on_hold'; they stay with the Bouncer."""
    e164 = _phone(phone)
    with uow_factory() as uow:
        user = _lock(uow, e164)
        user_id = user.id
        if user.verified:
            raise ApprovalError("this user is already approved", status=409)
        if user.approval_status == "on_hold":
            return Decision(user_id, e164, "on_hold", user.poc_agent_type, changed=False)
        uow.users.set_approval_status(user_id, "on_hold")
        _log_decision(uow, user_id, "on_hold", operator, {})
        uow.commit()
    log.info("user put on hold", extra={"user_id": str(user_id), "operator": operator})
    return Decision(user_id, e164, "on_hold", user.poc_agent_type, changed=True)


def pending(
    *, limit: int = PENDING_LIST_LIMIT, uow_factory: UowFactory = PostgresUnitOfWork
) -> list[dict[str, Any]]:
    """Users awaiting a decision (pending first, then on hold), oldest first, JSON-ready."""
    with uow_factory() as uow:
        members = uow.users.pending_approval(limit=limit)
    return [
        {k: (str(v) if isinstance(v, UUID | datetime) else v) for k, v in asdict(member).items()}
        for member in members
    ]


def _queue_welcome(uow: PostgresUnitOfWork, user_id: UUID, agent: str, now: datetime) -> None:
    """Activation (issue 16 §3): a welcome from the new point of contact and one question about
    what the member is working on (their answer becomes their goal). Through the queue, so the
    orchestrator applies quiet hours and the budget; not delayed to a "best hour"."""
    from shared.agents.concierge.prompts import WELCOME, WELCOME_QUESTION
    from shared.agents.innovator.prompts import WELCOME as INNOVATOR_WELCOME

    conversation = uow.conversations.latest_for_user(user_id)
    queue_message(
        uow,
        user_id=user_id,
        agent_id=agent,
        now=now,
        parts=[INNOVATOR_WELCOME if agent == "innovator" else WELCOME, WELCOME_QUESTION],
        message_data={"kind": "welcome", "asks": "goal"},
        priority="high",
        can_delay=False,
        conversation_id=conversation.id if conversation else None,
    )


def _log_decision(
    uow: PostgresUnitOfWork, user_id: UUID, decision: str, operator: str, extra: dict[str, Any]
) -> None:
    uow.actions.record(
        ActionRecord(
            agent_type="operator",
            action_type=f"approval_{decision}",
            user_id=user_id,
            context_type="approval",
            input_data={"operator": operator, **extra},
            output_data={"approval_status": decision},
        )
    )
