"""The Social Butterfly (``agent_social_butterfly``, agents.md §11): mutual LinkedIn connections between an
uploaded prospect and the innovator, turned into intro opportunities for the members who know the prospect.

On ``prospect.research_needed`` (``prospect_id``, ``innovator_id``, ``research_type``; the camelCase
spellings are read too):
1. without ``APIFY_TOKEN`` the research is disabled: a clear log line, nothing written;
2. the Apify LinkedIn Actor lists the mutual connections (``shared.adapters.apify``);
3. they are stored on the prospect's ``linkedin_research_prospects`` row;
4. each one that is a verified member (by LinkedIn URL) gets an ``open`` intro opportunity, bounty 50,
   expiring after ``INTRO_OPPORTUNITY_EXPIRY`` (once per connector, prospect and innovator), and
   ``intro.opportunity_created`` (the Intro agent writes its talking points);
5. ``prospect.research_complete`` with the counts.
An Apify failure retries the delivery (the consumer contract); a malformed event is a permanent error.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from shared.adapters.apify import ResearchUnavailable
from shared.adapters.repositories.offers import NewOpportunity
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.domain import events as ev
from shared.domain.constants import INTRO_OPPORTUNITY_DEFAULT_BOUNTY, INTRO_OPPORTUNITY_EXPIRY
from shared.logs import get_logger
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps

log = get_logger(__name__)

AGENT = "social_butterfly"
MUTUAL_CONNECTIONS = "linkedin_mutual_connections"  # agents.md §11's name
RESEARCH_TYPES = (MUTUAL_CONNECTIONS, "mutual_connections")  # the upload page publishes the short one
PROSPECT_RESEARCH_COMPLETE = "prospect.research_complete"


def normalise_linkedin(url: str) -> str:
    return re.sub(r"^https?://(www\.)?", "", url.strip().lower().rstrip("/"))


def _uuid(payload: dict[str, Any], *names: str) -> UUID:
    for name in names:
        value = payload.get(name)
        if value:
            try:
                return UUID(str(value))
            except ValueError:
                break
    raise PermanentError(f"{names[0]} is missing or not a uuid")


def handle_research_needed(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    payload = delivery.data.get("payload") or {}
    if not isinstance(payload, dict):
        raise PermanentError("prospect.research_needed payload is not an object")
    prospect_id = _uuid(payload, "prospect_id", "prospectId")
    innovator_id = _uuid(payload, "innovator_id", "innovatorId")
    research_type = payload.get("research_type") or payload.get("researchType") or MUTUAL_CONNECTIONS
    if research_type not in RESEARCH_TYPES:
        raise PermanentError(
            f"research_type {research_type!r} is not supported (only {', '.join(RESEARCH_TYPES)})"
        )
    research = deps.research
    if research is None:
        log.warning(
            "social butterfly disabled: no APIFY_TOKEN configured; prospect not researched",
            extra={"prospect_id": str(prospect_id), "innovator_id": str(innovator_id)},
        )
        return {"status": "disabled", "reason": "no APIFY_TOKEN"}
    target = uow.intro_offers.research_target(prospect_id, innovator_id)
    if target is None:
        raise PermanentError(f"no prospect {prospect_id} of innovator {innovator_id}")
    if not target.linkedin_url:
        log.info("prospect has no LinkedIn URL; nothing to research", extra={"prospect_id": str(prospect_id)})
        return {"status": "skipped", "reason": "no linkedin_url"}
    try:
        found = research.find(target.linkedin_url, target.innovator_linkedin_url)
    except ResearchUnavailable as exc:
        raise RuntimeError(str(exc)) from exc  # retried by the consumer contract
    now = deps.clock()
    uow.intro_offers.record_research(
        target, [{"name": m.name, "linkedin_url": m.linkedin_url, "headline": m.headline} for m in found], now
    )
    connectors = [
        c
        for c in uow.intro_offers.members_by_linkedin([normalise_linkedin(m.linkedin_url) for m in found])
        if c != innovator_id
    ]
    prospect_name = " ".join(p for p in (target.first_name, target.last_name) if p)
    context = f"{target.innovator_name or 'A member company'} would like to meet {prospect_name}."
    created = 0
    for connector in connectors:
        opportunity_id = uow.intro_offers.add_opportunity(
            NewOpportunity(
                connector_user_id=connector,
                target=target,
                intro_context=context,
                bounty_credits=INTRO_OPPORTUNITY_DEFAULT_BOUNTY,
                expires_at=now + INTRO_OPPORTUNITY_EXPIRY,
            )
        )
        if opportunity_id is None:
            continue
        created += 1
        uow.emit(
            ev.IntroFlowChanged(
                ev.INTRO_OPPORTUNITY_CREATED,
                "intro_opportunity",
                opportunity_id,
                innovator_id,
                AGENT,
                "open",
                members={"connector_user_id": connector, "innovator_id": innovator_id},
                details={"prospect_id": prospect_id, "bounty_credits": INTRO_OPPORTUNITY_DEFAULT_BOUNTY},
            ).event()
        )
    uow.emit(
        ev.Event(
            event_type=PROSPECT_RESEARCH_COMPLETE,
            aggregate_type="prospect",
            aggregate_id=prospect_id,
            payload={
                "prospect_id": str(prospect_id),
                "user_id": str(innovator_id),
                "mutual_connections_found": len(found),
                "members_matched": len(connectors),
                "intro_opportunities_created": created,
            },
            created_by=AGENT,
        )
    )
    return {"status": "researched", "found": len(found), "matched": len(connectors), "created": created}
