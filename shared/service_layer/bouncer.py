"""The Bouncer's use cases: what the ``agent_bouncer`` function does with each delivery.

- event ``message.received`` / ``user.email_verified``: run one Bouncer turn for the user
  (``shared.agents.conversation.turn.run_turn``), which answers every unanswered inbound
  message at once;
- task ``re_engagement_check`` (decisions B4): skip when the user wrote since the task was
  created or onboarding no longer needs chasing; attempts 1 and 2 insert the inbound system
  trigger and run a re-engagement turn, whose message is queued for the orchestrator (quiet
  hours, budgets); the check after the second pauses the conversation;

Turns commit in their own transaction (their own pooled connection); the consumer's transaction
only holds the delivery's idempotency mark and the task completion. A redelivery after a
committed turn finds nothing unanswered (every answered message carries the turn's id in
``messages.answered_by_turn_id``) and is a no-op.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from shared.adapters.repositories import ActionRecord, UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.bouncer.agent import RE_ENGAGEMENT_TYPE, BouncerAgent
from shared.agents.bouncer.state import onboarding_state
from shared.agents.bouncer.tools import AGENT
from shared.agents.conversation.protocol import TurnResult
from shared.agents.conversation.turn import run_turn
from shared.domain.constants import BOUNCER_MAX_FOLLOWUPS
from shared.domain.onboarding import follow_up_sends_message, needs_follow_up
from shared.logs import get_logger
from shared.service_layer.consumer import Delivery, delivery_user_id
from shared.service_layer.deps import Deps

log = get_logger(__name__)


def bouncer_agent(verify_domain: str | None) -> BouncerAgent:
    return BouncerAgent(verify_domain=verify_domain)


def run_bouncer_turn(user_id: UUID, deps: Deps) -> TurnResult:
    agent = bouncer_agent(deps.verify_email_domain)
    result = run_turn(
        agent, user_id, llm=deps.llm, uow_factory=deps.uow_factory, clock=deps.clock, burst=deps.burst
    )
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


def handle_turn_event(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Events ``message.received`` / ``user.email_verified``: one Bouncer turn (its own transaction)."""
    result = run_bouncer_turn(delivery_user_id(delivery), deps)
    return {"status": result.status, "path": result.path, "replies": len(result.bodies)}


def handle_followup_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Task ``re_engagement_check`` (decisions B4)."""
    return run_followup(delivery_user_id(delivery), delivery.id, delivery.data, deps)


def run_followup(user_id: UUID, task_id: UUID, data: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """One due ``re_engagement_check`` (decisions B4, agents.md §2.10)."""
    context = data.get("context_json") or {}
    attempt = int(context.get("attemptCount") or 1)
    with deps.uow_factory() as uow:
        uow.users.lock(user_id, UserLock.ACCOUNT)
        user = uow.users.get(user_id)
        if user is None:
            return {"status": "skipped", "reason": "no_user"}
        state = onboarding_state(user)
        last_user = uow.messages.last_user_text_at(user_id)
        scheduled_at = uow.tasks.created_at(task_id)
        last_reply = uow.messages.last_reply_at(user_id, AGENT)
        conversation = uow.conversations.active_for_user(user_id)
        if user.verified or user.opted_out or not needs_follow_up(state):
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
            uow.conversations.set_status(conversation.id, "paused")
            uow.actions.record(
                ActionRecord(
                    agent_type=AGENT,
                    action_type="re_engagement_paused",
                    user_id=user_id,
                    context_id=conversation.id,
                    context_type="conversation",
                    input_data={"attemptCount": attempt, "task_id": str(task_id)},
                    output_data={"paused": True},
                )
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
        if not uow.messages.trigger_exists(user_id, task_id):
            uow.messages.add_system_trigger(conversation_id=conversation.id, user_id=user_id, content=content)
        uow.commit()
    result = run_bouncer_turn(user_id, deps)
    return {"status": result.status, "path": result.path, "attempt": attempt, "replies": len(result.bodies)}
