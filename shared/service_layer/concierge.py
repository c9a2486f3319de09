"""The Concierge's and the Innovator's use cases: what ``agent_concierge`` / ``agent_innovator`` do.

- events ``message.received`` / ``user.email_verified``: one turn for the member
  (``shared.agents.conversation.turn.run_turn``), answering every unanswered inbound message at once, with the
  LLM or, without one, the offline brain.

The agents' community tools (cancel a request, record an expert's answer) call the Community service's
public use cases through ``CommunityService``, and ``record_follow_up_answer`` the Solution Saga's
through ``SagaService``, handed to the agent (an agent never imports upward).

Turns commit in their own transaction (see ``shared.service_layer.bouncer``); a redelivery after
a committed turn finds nothing unanswered and is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.agent import ConciergeAgent
from shared.agents.conversation.protocol import TurnResult
from shared.agents.conversation.turn import run_turn
from shared.agents.innovator.agent import InnovatorAgent
from shared.logs import get_logger
from shared.service_layer import community, solution_saga
from shared.service_layer.consumer import Delivery, delivery_user_id
from shared.service_layer.deps import Deps
from shared.service_layer.intros import IntroService

log = get_logger(__name__)


class CommunityService:
    """The Community use cases the Concierge's tools call (``CommunityPort``): its public functions only."""

    def reply(
        self, uow: PostgresUnitOfWork, *, request_id: UUID, expert_user_id: UUID, text: str, now: datetime
    ) -> Mapping[str, Any]:
        result = community.handle_expert_reply(
            uow, request_id=request_id, expert_user_id=expert_user_id, text=text, now=now
        )
        return result.as_dict()

    def cancel(self, uow: PostgresUnitOfWork, *, request_id: UUID, user_id: UUID, now: datetime) -> str:
        return community.cancel_request(uow, request_id=request_id, user_id=user_id, now=now)


class SagaService:
    """The Solution Saga's use case the Concierge's ``record_follow_up_answer`` calls (``SagaPort``)."""

    def record_follow_up_answer(
        self, uow: PostgresUnitOfWork, *, workflow_id: UUID, expert_user_id: UUID, answer: str, now: datetime
    ) -> Mapping[str, Any]:
        return solution_saga.record_follow_up_answer(
            uow, workflow_id, expert_user_id=expert_user_id, answer=answer, now=now
        ).as_dict()


def _services() -> tuple[CommunityService, IntroService, SagaService]:
    """What a point of contact's tools call, in its constructor's order (an agent never imports upward)."""
    return CommunityService(), IntroService(), SagaService()


def run_member_turn(user_id: UUID, deps: Deps, *, innovator: bool = False) -> TurnResult:
    return _run(InnovatorAgent(*_services()) if innovator else ConciergeAgent(*_services()), user_id, deps)


def _run(agent: ConciergeAgent, user_id: UUID, deps: Deps) -> TurnResult:
    # Each handler names only its own agent, so the Concierge's code path (and its deployed
    # settings, tests/infra) never reaches the Innovator's commerce tools and their secrets.
    result = run_turn(
        agent, user_id, llm=deps.llm, uow_factory=deps.uow_factory, clock=deps.clock, burst=deps.burst
    )
    log.info(
        f"{agent.name} turn",
        extra={
            "user_id": str(user_id),
            "status": result.status,
            "path": result.path,
            "replies": len(result.bodies),
        },
    )
    return result


def handle_turn_event(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """Events for a Concierge member: one turn (its own transaction)."""
    result = _run(ConciergeAgent(*_services()), delivery_user_id(delivery), deps)
    return {"status": result.status, "path": result.path, "replies": len(result.bodies)}


def handle_innovator_turn_event(
    delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps
) -> dict[str, Any] | None:
    """Events for an Innovator member: one turn (its own transaction)."""
    result = _run(InnovatorAgent(*_services()), delivery_user_id(delivery), deps)
    return {"status": result.status, "path": result.path, "replies": len(result.bodies)}
