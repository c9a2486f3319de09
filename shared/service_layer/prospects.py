"""Prospect upgrade (agents.md §2.8, §14; decisions B8): when a member is approved, the Intro agent's
``prospect_upgrade_check`` task scores them against the prospects innovators uploaded.

- score >= 70: the prospect is ``converted`` to the member; for the innovator who uploaded it, a
  connection request (innovator -> member; ``connection.request_created``) and 25 credits under
  ``prospect_converted_{prospect}_{innovator}``;
- 40-69: flagged for an operator (``ops prospects review``), nothing else;
- every score and the fields that matched are logged, so the thresholds can be tuned.

Non-blocking (§2.8): approval only schedules the task (one per member, its dedupe key); a failure here
retries the task and never fails the approval. A second run converts nothing (the guarded
``pending -> converted``) and pays nothing twice (the ledger key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.repositories.offers import NewConnectionRequest
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain import credits as credit_rules
from shared.domain import events as ev
from shared.domain.constants import CONNECTION_REQUEST_EXPIRY
from shared.domain.prospect_matching import Person, score
from shared.logs import get_logger
from shared.service_layer import credits
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps

log = get_logger(__name__)

UPGRADE_TASK = "prospect_upgrade_check"
AGENT = "intro"


def schedule_upgrade_check(uow: PostgresUnitOfWork, user_id: UUID, now: datetime, *, created_by: str) -> None:
    """Called by approval: the check runs as the Intro agent's task, once per member (dedupe key)."""
    create_task(
        uow,
        task_type=UPGRADE_TASK,
        agent_type=AGENT,
        user_id=user_id,
        scheduled_for=now,
        priority="medium",
        context_json={},
        dedupe_key=f"{UPGRADE_TASK}:{user_id}",
        created_by=created_by,
    )


def upgrade_prospects(uow: PostgresUnitOfWork, user_id: UUID, now: datetime) -> dict[str, Any]:
    user = uow.users.get(user_id)
    if user is None or not user.verified:
        return {"upgraded": 0, "review": 0, "reason": "not a verified member"}
    member = Person(
        email=user.email if user.email_verified else None,
        phone=user.phone_number,
        linkedin_url=getattr(user, "linkedin_url", None),
        first_name=user.first_name,
        last_name=user.last_name,
        company=user.company,
    )
    upgraded = review = 0
    intros = uow.intro_offers
    for prospect in intros.prospect_candidates(user_id):
        match = score(
            member,
            Person(
                email=prospect.email,
                phone=prospect.phone,
                linkedin_url=prospect.linkedin_url,
                first_name=prospect.first_name,
                last_name=prospect.last_name,
                company=prospect.company,
            ),
        )
        log.info(
            "prospect match scored",
            extra={
                "user_id": str(user_id),
                "prospect_id": str(prospect.id),
                "score": match.score,
                "fields": list(match.fields),
            },
        )
        if match.upgrade and intros.convert_prospect(prospect.id, user_id, now):
            _upgrade(uow, user_id, prospect.id, prospect.innovator_id, now)
            upgraded += 1
        elif match.review:
            intros.flag_prospect_for_review(
                prospect.id,
                {
                    "user_id": str(user_id),
                    "score": match.score,
                    "fields": list(match.fields),
                    "at": now.isoformat(),
                },
            )
            review += 1
    return {"upgraded": upgraded, "review": review}


def _upgrade(
    uow: PostgresUnitOfWork, user_id: UUID, prospect_id: UUID, innovator_id: UUID, now: datetime
) -> None:
    made = uow.intro_offers.add_connection_request(
        NewConnectionRequest(
            user_id=innovator_id,
            target_user_id=user_id,
            intro_context="You were on their list of people they hoped to meet, and you just joined.",
            bounty_credits=0,
            expires_at=now + CONNECTION_REQUEST_EXPIRY,
        )
    )
    if made is not None and made[1]:
        uow.emit(
            ev.IntroFlowChanged(
                ev.CONNECTION_REQUEST_CREATED,
                "connection_request",
                made[0],
                innovator_id,
                AGENT,
                "open",
                members={"requestor_user_id": innovator_id, "introducee_user_id": user_id},
                details={"prospect_id": prospect_id, "reason": "prospect_converted"},
            ).event()
        )
    credits.award(
        uow,
        user_id=innovator_id,
        amount=credit_rules.prospect_conversion_credits(),
        event_type=credit_rules.PROSPECT_CONVERTED,
        reference_type="prospect",
        reference_id=prospect_id,
        idempotency_key=credit_rules.prospect_converted_key(prospect_id, innovator_id),
        description="A prospect you uploaded joined",
        recorded_by=AGENT,
    )


def handle_upgrade_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    if delivery.user_id is None:
        raise PermanentError("prospect_upgrade_check without a member")
    return upgrade_prospects(uow, delivery.user_id, deps.clock())
