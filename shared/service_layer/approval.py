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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared import registry
from shared.adapters.postgres import Row, Sql
from shared.agents.bouncer.tools import cancel_followups
from shared.domain.events import Event
from shared.domain.phone import InvalidPhoneNumber, normalize_e164
from shared.logs import get_logger
from shared.service_layer.queue_messages import queue_message
from shared.service_layer.unit_of_work import PostgresUnitOfWork

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


def _lock(sql: Sql, phone: str) -> Row:
    user = sql.one("approval_lock_user_by_phone", phone=phone)
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
        user = _lock(uow.sql, e164)
        user_id = UUID(str(user["id"]))
        if user["verified"] and user["poc_agent_type"] == as_:
            return Decision(user_id, e164, "approved", as_, changed=False)
        row = uow.sql.one("approval_approve_user", user_id=user_id, poc_agent_type=as_)
        assert row is not None
        if as_ == "innovator":
            uow.sql.one(
                "approval_insert_innovator",
                user_id=user_id,
                company_name=user["company"]
                or f"{user['first_name'] or ''} {user['last_name'] or ''}".strip()
                or "unknown",
            )
        _cancel_followups(uow.sql, user_id, reason="approved")
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
        if not user["opted_out"]:
            _queue_welcome(uow.sql, user_id, as_, at)
        _log_decision(uow.sql, user_id, "approved", operator, {"poc_agent_type": as_})
        uow.commit()
    log.info("user approved", extra={"user_id": str(user_id), "poc_agent_type": as_, "operator": operator})
    return Decision(user_id, e164, "approved", as_, changed=True)


def reject(phone: str, *, operator: str, uow_factory: UowFactory = PostgresUnitOfWork) -> Decision:
    """Reject: approval_status 'rejected', a polite close, no further follow-ups."""
    e164 = _phone(phone)
    with uow_factory() as uow:
        user = _lock(uow.sql, e164)
        user_id = UUID(str(user["id"]))
        if user["verified"]:
            raise ApprovalError(
                "this user is already approved; rejecting a member is not supported", status=409
            )
        if user["approval_status"] == "rejected":
            return Decision(user_id, e164, "rejected", str(user["poc_agent_type"]), changed=False)
        uow.sql.one("approval_set_status", user_id=user_id, approval_status="rejected")
        _cancel_followups(uow.sql, user_id, reason="rejected")
        conversation = uow.sql.one("bouncer_latest_conversation", user_id=user_id)
        if conversation is not None and not user["opted_out"]:
            # Proactive (issue 8 §5): the orchestrator holds it out of quiet hours and budgets it,
            # unless the member texted in the last 10 minutes. A decision never goes stale.
            queue_message(
                uow.sql,
                user_id=user_id,
                agent_id="bouncer",
                now=datetime.now(UTC),
                parts=[REJECTION_MESSAGE],
                message_data={"kind": "rejection"},
                priority="high",
                can_delay=False,
                requires_fresh_context=False,
                conversation_id=UUID(str(conversation["id"])),
            )
            uow.sql.one(
                "bouncer_set_conversation_status", conversation_id=conversation["id"], status="closed"
            )
        _log_decision(uow.sql, user_id, "rejected", operator, {})
        uow.commit()
    log.info("user rejected", extra={"user_id": str(user_id), "operator": operator})
    return Decision(user_id, e164, "rejected", str(user["poc_agent_type"]), changed=True)


def hold(phone: str, *, operator: str, uow_factory: UowFactory = PostgresUnitOfWork) -> Decision:
    """Put a user on hold: approval_status 'on_hold'; they stay with the Bouncer."""
    e164 = _phone(phone)
    with uow_factory() as uow:
        user = _lock(uow.sql, e164)
        user_id = UUID(str(user["id"]))
        if user["verified"]:
            raise ApprovalError("this user is already approved", status=409)
        if user["approval_status"] == "on_hold":
            return Decision(user_id, e164, "on_hold", str(user["poc_agent_type"]), changed=False)
        uow.sql.one("approval_set_status", user_id=user_id, approval_status="on_hold")
        _log_decision(uow.sql, user_id, "on_hold", operator, {})
        uow.commit()
    log.info("user put on hold", extra={"user_id": str(user_id), "operator": operator})
    return Decision(user_id, e164, "on_hold", str(user["poc_agent_type"]), changed=True)


def pending(
    *, limit: int = PENDING_LIST_LIMIT, uow_factory: UowFactory = PostgresUnitOfWork
) -> list[dict[str, Any]]:
    """Users awaiting a decision (pending first, then on hold), oldest first, JSON-ready."""
    with uow_factory() as uow:
        rows = uow.sql.all("approval_pending_users", limit=limit)
    return [{k: (str(v) if isinstance(v, UUID | datetime) else v) for k, v in row.items()} for row in rows]


def _queue_welcome(sql: Sql, user_id: UUID, agent: str, now: datetime) -> None:
    """Activation (issue 16 §3): a welcome from the new point of contact and one question about
    what the member is working on (their answer becomes their goal). Through the queue, so the
    orchestrator applies quiet hours and the budget; not delayed to a "best hour"."""
    from shared.agents.concierge.prompts import WELCOME, WELCOME_QUESTION
    from shared.agents.innovator.prompts import WELCOME as INNOVATOR_WELCOME
    from shared.service_layer.queue_messages import queue_message

    conversation = sql.one("bouncer_latest_conversation", user_id=user_id)
    queue_message(
        sql,
        user_id=user_id,
        agent_id=agent,
        now=now,
        parts=[INNOVATOR_WELCOME if agent == "innovator" else WELCOME, WELCOME_QUESTION],
        message_data={"kind": "welcome", "asks": "goal"},
        priority="high",
        can_delay=False,
        conversation_id=UUID(str(conversation["id"])) if conversation else None,
    )


def _cancel_followups(sql: Sql, user_id: UUID, *, reason: str) -> None:
    cancel_followups(sql, user_id, reason=reason)


def _log_decision(sql: Sql, user_id: UUID, decision: str, operator: str, extra: dict[str, Any]) -> None:
    import json

    sql.one(
        "bouncer_log_action",
        agent_type="operator",
        action_type=f"approval_{decision}",
        user_id=user_id,
        context_id=None,
        context_type="approval",
        input_data=json.dumps({"operator": operator, **extra}),
        output_data=json.dumps({"approval_status": decision}),
        error=None,
    )
