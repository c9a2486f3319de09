"""The Bouncer's tools: what a decision is allowed to change (agents.md §2.2, §2.4, §2.5).

Every handler acts on the current user only (``turn.user_id`` comes from the delivery, never
from the model) and can do nothing else: write onboarding fields, record a referral or a
nomination, hand out the verification address, complete onboarding when the database agrees
the preconditions hold, or close the flow. None can verify a user, change ``poc_agent_type`` or
read another user's data (decisions B10). The framework runs each in a savepoint with a timeout
and turns a failure into a tool error for Call 2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from shared.adapters.email_parsing import verification_address
from shared.adapters.llm import ToolSpec
from shared.adapters.repositories import ActionRecord, NewNomination
from shared.adapters.repositories.users import ProfileFields, ReferralQuery
from shared.adapters.tasks import cancel_pending_tasks
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.bouncer.decision import CloseInvite, NoArguments, Nomination, UserInfo
from shared.agents.bouncer.state import BouncerTurn, BouncerTurnState, Candidate
from shared.agents.conversation.protocol import AgentTool
from shared.domain.constants import (
    REFERRAL_CANDIDATES,
    REFERRAL_EXACT_MATCH_SCORE,
    REFERRAL_PARTIAL_MATCH_SCORE,
)
from shared.domain.events import Event
from shared.domain.onboarding import split_name, typed_emails
from shared.logs import get_logger

log = get_logger(__name__)

AGENT = "bouncer"
FOLLOWUP_TASK = "re_engagement_check"
FOLLOWUP_KIND = "followup"  # message_queue.message_data['kind'] of a queued follow-up


def log_action(
    uow: PostgresUnitOfWork,
    user_id: UUID,
    action: str,
    input_data: dict[str, Any],
    output_data: dict[str, Any],
    *,
    context_id: UUID | None = None,
    error: str | None = None,
) -> None:
    uow.actions.record(
        ActionRecord(
            agent_type=AGENT,
            action_type=action,
            user_id=user_id,
            context_id=context_id,
            context_type="conversation" if context_id else None,
            input_data=input_data,
            output_data=output_data,
            error=error,
        )
    )


def _clean(value: str | None) -> str | None:
    """A field value without any email address in it (B10) and without stray whitespace."""
    if value is None or typed_emails(value):
        return None
    cleaned = " ".join(value.split()).strip(" .,;:")
    return cleaned or None


# --- Referral matching (agents.md §2.4) ------------------------------------------------------------


def referral_candidates(uow: PostgresUnitOfWork, user_id: UUID, text: str) -> list[Candidate]:
    """Verified members whose names resemble ``text``, best first, at most REFERRAL_CANDIDATES."""
    words = [
        w for w in re.split(r"[^\w'’\-]+", text.lower()) if w and w not in {"my", "friend", "from", "at"}
    ]
    if not words:
        return []
    first = words[0]
    last = words[-1] if len(words) > 1 else ""
    query = ReferralQuery(
        full=f"{first} {last}".strip(),
        first=first,
        last=last,
        exact=REFERRAL_EXACT_MATCH_SCORE,
        partial=REFERRAL_PARTIAL_MATCH_SCORE,
        limit=REFERRAL_CANDIDATES,
    )
    return [
        Candidate(c.id, c.first_name, c.last_name, c.company, c.score)
        for c in uow.users.referral_candidates(user_id, query)
    ]


def deterministic_referral(candidates: Sequence[Candidate]) -> UUID | None:
    """Without the LLM's judgment only a unique exact full-name match counts."""
    exact = [c for c in candidates if c.score >= REFERRAL_EXACT_MATCH_SCORE]
    return exact[0].id if len(exact) == 1 else None


def record_referral(turn: BouncerTurn, text: str, chosen: UUID | None) -> dict[str, Any]:
    uow = turn.uow
    user = uow.users.get(turn.user_id)
    if user is None or user.referred_by is not None:
        return {"referral": "already_recorded"}
    raw = " ".join(text.split())[:255]
    candidates = referral_candidates(uow, turn.user_id, raw)
    offered = {c.id for c in turn.state.candidates or []} | {c.id for c in candidates}
    if chosen is not None and chosen not in offered:
        log.warning("referral id outside the candidates ignored", extra={"user_id": str(turn.user_id)})
        chosen = None
    if chosen is None:
        chosen = deterministic_referral(candidates)
    if chosen is not None:
        uow.users.set_referred_by(turn.user_id, chosen)
        outcome = "matched"
    else:
        uow.users.set_name_dropped(turn.user_id, raw)
        outcome = "name_dropped"
    log_action(
        uow,
        turn.user_id,
        "referral_recorded",
        {"text": raw, "candidates": len(candidates)},
        {"outcome": outcome, "referred_by": str(chosen) if chosen else None},
        context_id=turn.ctx.conversation_id,
    )
    return {"referral": outcome}


# --- Handlers -----------------------------------------------------------------------------------


def collect_user_info(turn: BouncerTurn, info: UserInfo) -> dict[str, Any]:
    fields: dict[str, str | None] = {
        "first_name": _clean(info.first_name),
        "last_name": _clean(info.last_name),
        "company": _clean(info.company),
        "title": _clean(info.title),
        "linkedin_url": info.linkedin_url,
    }
    if fields["first_name"] and fields["last_name"] is None:  # "John Michael Smith" in first_name
        first, last = split_name(fields["first_name"])
        if first and last:
            fields["first_name"], fields["last_name"] = first, last
    expertise = [e.strip() for e in (info.expertise or []) if e.strip() and not typed_emails(e)] or None
    out: dict[str, Any] = {"captured": []}
    if any(v is not None for v in fields.values()) or expertise:
        profile = ProfileFields(**fields, expertise=tuple(expertise) if expertise else None)
        if not turn.uow.users.update_profile(turn.user_id, profile):
            raise RuntimeError("this user is not in onboarding")
        for name, value in fields.items():
            if value is None:
                continue
            out["captured"].append(name)
            turn.uow.events.add(
                Event(
                    event_type="user.onboarding_step.completed",
                    aggregate_type="user",
                    aggregate_id=turn.user_id,
                    payload={"user_id": str(turn.user_id), "step": f"{name}_collected", "field": name},
                    created_by=AGENT,
                ),
            )
        if expertise:
            out["captured"].append("expertise")
    if info.referrer_name:
        out.update(record_referral(turn, info.referrer_name, info.referrer_candidate_id))
    return out


def record_nomination(turn: BouncerTurn, nomination: Nomination) -> dict[str, Any]:
    name = _clean(nomination.prospect_name)
    if not name:
        return {"nomination": "ignored"}
    turn.uow.intro_offers.add_nomination(
        NewNomination(
            user_id=turn.user_id,
            prospect_name=name,
            prospect_company=_clean(nomination.prospect_company),
            prospect_title=_clean(nomination.prospect_title),
            prospect_context=nomination.context,
        )
    )
    return {"nomination": "noted"}


def make_send_verification_email(domain: str | None) -> Any:
    def send_verification_email(turn: BouncerTurn, _: NoArguments) -> dict[str, Any]:
        user = turn.uow.users.get(turn.user_id)
        assert user is not None
        if user.email_verified:
            return {"email_verified": True}
        if not domain:
            raise RuntimeError("VERIFY_EMAIL_DOMAIN is not configured")
        address = verification_address(user.verification_token, domain)
        # The column and the event change together, once: the first hand-out of the address.
        if turn.uow.users.mark_verification_requested(turn.user_id, turn.now):
            turn.uow.events.add(
                Event(
                    event_type="user.verification.pending",
                    aggregate_type="user",
                    aggregate_id=turn.user_id,
                    payload={
                        "user_id": str(turn.user_id),
                        "verification_type": "email",
                        "verification_email": address,
                    },
                    created_by=AGENT,
                ),
            )
        return {"verification_address": address}

    return send_verification_email


def complete_onboarding(turn: BouncerTurn, _: NoArguments) -> dict[str, Any]:
    """Publishes user.onboarding_info_complete; never sets verified or poc_agent_type (B10)."""
    completed_at = turn.uow.users.complete_onboarding(turn.user_id)
    if completed_at is None:
        raise RuntimeError(
            "onboarding cannot complete: a required field or the email verification is missing"
        )
    cancel_followups(turn.uow, turn.user_id, reason="onboarding_complete")
    turn.uow.events.add(
        Event(
            event_type="user.onboarding_info_complete",
            aggregate_type="user",
            aggregate_id=turn.user_id,
            payload={
                "user_id": str(turn.user_id),
                "onboarding_completed_at": str(completed_at),
                "ready_for_manual_approval": True,
            },
            created_by=AGENT,
        ),
    )
    return {"onboarding_complete": True}


def close_invite(turn: BouncerTurn, args: CloseInvite) -> dict[str, Any]:
    """The user is not interested: no more follow-ups, the conversation closed after the reply."""
    cancelled = cancel_followups(turn.uow, turn.user_id, reason=args.reason)
    turn.state.closed = True
    log_action(
        turn.uow,
        turn.user_id,
        "onboarding_declined",
        {"reason": args.reason},
        {"cancelled_followups": cancelled},
        context_id=turn.ctx.conversation_id,
    )
    return {"closed": True}


def cancel_followups(uow: PostgresUnitOfWork, user_id: UUID, *, reason: str) -> int:
    """No more chasing (B4): pending follow-up tasks cancelled, queued follow-ups superseded."""
    uow.queue.supersede_for_agent(user_id=user_id, agent_id=AGENT, kind=FOLLOWUP_KIND, reason=reason)
    return cancel_pending_tasks(uow, task_type=FOLLOWUP_TASK, user_id=user_id, reason=reason)


def build_tools(verify_domain: str | None) -> dict[str, AgentTool[BouncerTurnState]]:
    specs: list[AgentTool[BouncerTurnState]] = [
        AgentTool(
            ToolSpec(
                "collect_user_info", "Store the current user's own onboarding fields and referrer.", UserInfo
            ),
            collect_user_info,
        ),
        AgentTool(
            ToolSpec("record_nomination", "Store someone the user recommends for the network.", Nomination),
            record_nomination,
        ),
        AgentTool(
            ToolSpec("send_verification_email", "Get the user's verification address.", NoArguments),
            make_send_verification_email(verify_domain),
        ),
        AgentTool(
            ToolSpec(
                "complete_onboarding", "Put a fully onboarded user into the approval queue.", NoArguments
            ),
            complete_onboarding,
        ),
        AgentTool(
            ToolSpec("close_invite", "Stop onboarding: the user is not interested.", CloseInvite),
            close_invite,
        ),
    ]
    return {tool.spec.name: tool for tool in specs}
