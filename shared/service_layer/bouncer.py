"""The Bouncer's use cases: what the ``agent_bouncer`` function does with each delivery.

- event ``message.received`` / ``user.email_verified``: run one Bouncer turn for the user
  (``shared.agents.conversation.turn.run_turn``), which answers every unanswered inbound
  message at once;
- task ``re_engagement_check`` (decisions B4): skip when the user wrote since the task was
  created or onboarding no longer needs chasing; attempts 1 and 2 insert the inbound system
  trigger and run a re-engagement turn, whose message is queued for the orchestrator (quiet
  hours, budgets); the check after the second pauses the conversation;
- task ``create_conversation_summary``: the shared summaries use case.

Turns commit in their own transaction (their own pooled connection); the consumer's transaction
only holds the delivery's idempotency mark and the task completion. A redelivery after a
committed turn finds nothing unanswered (every answered message carries the turn's id in
``messages.answered_by_turn_id``) and is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.adapters.llm import Llm, get_llm
from shared.agents.bouncer.agent import RE_ENGAGEMENT_TYPE, BouncerAgent
from shared.agents.bouncer.state import onboarding_state
from shared.agents.conversation.protocol import TurnResult
from shared.agents.conversation.turn import run_turn
from shared.config import get_settings
from shared.domain.constants import BOUNCER_MAX_FOLLOWUPS
from shared.domain.onboarding import follow_up_sends_message, needs_follow_up
from shared.logs import get_logger
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.summaries import create_conversation_summary
from shared.service_layer.unit_of_work import PostgresUnitOfWork

log = get_logger(__name__)

Clock = Callable[[], datetime]
UowFactory = Callable[[], PostgresUnitOfWork]
TURN_EVENTS = frozenset({"message.received", "user.email_verified"})


def _now() -> datetime:
    return datetime.now(UTC)


def bouncer_agent() -> BouncerAgent:
    return BouncerAgent(verify_domain=get_settings().verify_email_domain)


def run_bouncer_turn(
    user_id: UUID,
    *,
    llm: Llm | None,
    clock: Clock = _now,
    uow_factory: UowFactory = PostgresUnitOfWork,
) -> TurnResult:
    result = run_turn(bouncer_agent(), user_id, llm=llm, uow_factory=uow_factory, clock=clock)
    log.info(
        "bouncer turn",
        extra={
            "user_id": str(user_id),
            "status": result.status,
            "path": result.path,
            "replies": len(result.bodies),
        },
    )
    return result


def _user_id(delivery: Delivery) -> UUID:
    raw = (
        delivery.user_id
        or delivery.data.get("user_id")
        or (delivery.data.get("payload") or {}).get("user_id")
    )
    if raw is None:
        raise PermanentError(f"{delivery.kind} {delivery.type} carries no user id")
    try:
        return UUID(str(raw))
    except ValueError:
        raise PermanentError(f"user id is not a UUID: {raw!r}") from None


def handle_delivery(
    delivery: Delivery,
    uow: PostgresUnitOfWork,
    *,
    llm: Llm | Callable[[], Llm | None] | None = get_llm,
    clock: Clock = _now,
    uow_factory: UowFactory = PostgresUnitOfWork,
) -> dict[str, Any] | None:
    """The agent_bouncer consumer handler (see shared.service_layer.consumer)."""
    model = llm() if callable(llm) and not hasattr(llm, "complete") else llm
    assert model is None or hasattr(model, "complete")
    user_id = _user_id(delivery)
    if delivery.kind == "event":
        if delivery.type not in TURN_EVENTS:
            raise PermanentError(f"the Bouncer does not handle event {delivery.type!r}")
        result = run_bouncer_turn(user_id, llm=model, clock=clock, uow_factory=uow_factory)
        return {"status": result.status, "path": result.path, "replies": len(result.bodies)}
    if delivery.type == "re_engagement_check":
        return run_followup(
            user_id,
            delivery.id,
            delivery.data,
            llm=model,
            clock=clock,
            uow_factory=uow_factory,
        )
    if delivery.type == "create_conversation_summary":
        context = delivery.data.get("context_json") or {}
        raw = delivery.data.get("context_id") or context.get("conversation_id")
        if raw is None:
            raise PermanentError("create_conversation_summary without a conversation id")
        summary = create_conversation_summary(
            UUID(str(raw)), llm=model, uow_factory=uow_factory, agent="bouncer"
        )
        return {"status": summary.status, "path": summary.path}
    raise PermanentError(f"the Bouncer does not handle task {delivery.type!r}")


def run_followup(
    user_id: UUID,
    task_id: UUID,
    data: dict[str, Any],
    *,
    llm: Llm | None,
    clock: Clock = _now,
    uow_factory: UowFactory = PostgresUnitOfWork,
) -> dict[str, Any]:
    """One due ``re_engagement_check`` (decisions B4, agents.md §2.10)."""
    context = data.get("context_json") or {}
    attempt = int(context.get("attemptCount") or 1)
    with uow_factory() as uow:
        user = uow.sql.one("bouncer_lock_user", user_id=user_id)
        if user is None:
            return {"status": "skipped", "reason": "no_user"}
        state = onboarding_state(user)
        last_user = uow.sql.scalar("bouncer_last_user_message_at", user_id=user_id)
        scheduled_at = uow.sql.scalar("bouncer_task_created_at", task_id=task_id)
        last_reply = uow.sql.scalar("bouncer_last_reply_at", user_id=user_id)
        conversation = uow.sql.one("bouncer_active_conversation", user_id=user_id)
        if user["verified"] or user["opted_out"] or not needs_follow_up(state):
            return {"status": "skipped", "reason": "onboarding_not_pending"}
        if last_user is not None and (
            last_reply is None
            or last_user > last_reply
            # the user wrote after this follow-up was scheduled: its cycle is over (B4)
            or (scheduled_at is not None and last_user > scheduled_at)
        ):
            return {"status": "skipped", "reason": "user_replied"}
        if conversation is None:
            return {"status": "skipped", "reason": "no_active_conversation"}
        if not follow_up_sends_message(attempt):
            uow.sql.one(
                "bouncer_set_conversation_status", conversation_id=conversation["id"], status="paused"
            )
            uow.sql.one(
                "bouncer_log_action",
                agent_type="bouncer",
                action_type="re_engagement_paused",
                user_id=user_id,
                context_id=conversation["id"],
                context_type="conversation",
                input_data=json.dumps({"attemptCount": attempt, "task_id": str(task_id)}),
                output_data=json.dumps({"paused": True}),
                error=None,
            )
            uow.commit()
            log.info("bouncer follow-ups unanswered; conversation paused", extra={"user_id": str(user_id)})
            return {"status": "paused", "attempt": attempt}
        content = json.dumps(
            {
                "type": RE_ENGAGEMENT_TYPE,
                "task_id": str(task_id),
                "attemptCount": attempt,
                "cycle": context.get("cycle") or str(task_id),
                "maxAttempts": BOUNCER_MAX_FOLLOWUPS,
                "lastInteractionAt": context.get("lastInteractionAt"),
                "missingFields": state.missing_fields(),
                "guidance": (
                    "soft tone; ask whether they still want to proceed; do not list the missing fields"
                ),
            },
            sort_keys=True,
        )
        if not uow.sql.scalar("bouncer_trigger_exists", user_id=user_id, task_id=str(task_id)):
            uow.sql.one(
                "bouncer_insert_system_message",
                conversation_id=conversation["id"],
                user_id=user_id,
                content=content,
            )
        uow.commit()
    result = run_bouncer_turn(user_id, llm=llm, clock=clock, uow_factory=uow_factory)
    return {"status": result.status, "path": result.path, "attempt": attempt, "replies": len(result.bodies)}
