"""The intro services the Concierge's and the Innovator's intro tools call (issue 12 §1).

The transitions themselves (guarded statements, sibling pause, bounties, events, the Account Manager's
priority updates) are the service layer's (``shared.service_layer.intros``); an agent never imports
upward, so the service is handed to the agent as an ``IntroPort`` by ``shared.service_layer.concierge``.
Every method runs in the turn's unit of work and acts for ``actor.user_id`` only; it returns the tool
result (ids and statuses, never another member's contact details, decisions B17) or raises
``shared.domain.intros.IntroRefused`` with a clear message when nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.decision import OfferIntroArgs, RequestConnectionArgs

OfferAction = Literal["accept", "decline", "confirm"]


@dataclass(frozen=True)
class IntroActor:
    """Who acts, through which agent, at the turn's clock reading."""

    user_id: UUID
    agent: str  # concierge | innovator | intro (the follow-up) | ops
    now: datetime


class IntroPort(Protocol):
    def offer_introduction(
        self, uow: PostgresUnitOfWork, actor: IntroActor, args: OfferIntroArgs
    ) -> Mapping[str, Any]: ...

    def answer_opportunity(
        self,
        uow: PostgresUnitOfWork,
        actor: IntroActor,
        opportunity_id: UUID,
        *,
        accept: bool,
        reason: str | None,
    ) -> Mapping[str, Any]: ...

    def answer_connection_request(
        self,
        uow: PostgresUnitOfWork,
        actor: IntroActor,
        request_id: UUID,
        *,
        accept: bool,
        reason: str | None,
    ) -> Mapping[str, Any]: ...

    def answer_offer(
        self,
        uow: PostgresUnitOfWork,
        actor: IntroActor,
        offer_id: UUID,
        *,
        action: OfferAction,
        reason: str | None,
    ) -> Mapping[str, Any]: ...

    def request_connection(
        self, uow: PostgresUnitOfWork, actor: IntroActor, args: RequestConnectionArgs
    ) -> Mapping[str, Any]: ...

    def record_outcome(
        self, uow: PostgresUnitOfWork, actor: IntroActor, *, met: bool, reason: str | None
    ) -> Mapping[str, Any]: ...
