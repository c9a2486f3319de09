"""The three intro flows as services (issue 12 §1, agents.md §10, §12; decisions B8, B17, B20), and the
Intro agent's handlers (``agent_intro``).

Every transition is one guarded statement naming the row's id, the status it must be in and the acting
member (``shared/adapters/sql/intro_offers.sql``); zero rows is a clear refusal
(``shared.domain.intros.IntroRefused``) and nothing changes. Every state change publishes its §12 event in
the same unit of work, so the Account Manager re-ranks everyone the row concerns.

- member answers (the Concierge's and Innovator's tools call these through ``IntroPort``):
  ``IntroService``: offer, accept/decline an opportunity (accept locks the prospect's opportunities and
  pauses the siblings), accept/decline a connection request, accept/decline/confirm an offer, request a
  connection;
- both sides accepted (``intro.offer_confirmed``, ``connection.request_accepted``, and an accepted
  opportunity): the Intro agent exchanges contact details through the queue, only now (B17), and schedules
  ``intro_followup_check`` at +7 days, which asks each side whether they met;
- ``record_outcome``: "yes, we met" completes the intro, cancels an opportunity's siblings and pays the
  bounty once through the ledger under ``intro_completed_{id}_{user}`` (B20: acceptance alone pays nothing;
  the connector of an offer is paid then too, B20 being the later and more specific rule than B8);
- ``run_intro_expiry``: the scheduled job: rows past ``expires_at`` -> ``expired``; the 3-day reminder to
  connectors who have not confirmed (once per offer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.adapters.queue_messages import queue_for_member
from shared.adapters.repositories.offers import (
    IntroAnswer,
    IntroParties,
    MemberCard,
    NewConnectionRequest,
    NewIntroOffer,
)
from shared.adapters.tasks import create_task
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.concierge.decision import OfferIntroArgs, RequestConnectionArgs
from shared.agents.concierge.intro_port import IntroActor, OfferAction
from shared.agents.intro.talking_points import talking_points
from shared.domain import credits as credit_rules
from shared.domain import events as ev
from shared.domain.constants import (
    CONNECTION_REQUEST_EXPIRY,
    INTRO_EXPIRY_BATCH,
    INTRO_FOLLOWUP_AFTER,
    INTRO_OFFER_EXPIRY,
    INTRO_OFFER_REMINDER_AFTER,
    NOT_MET_REASON_MAX,
)
from shared.domain.intros import (
    CONNECTION_REQUEST,
    FOLLOWUP_OFFER_CONNECTOR,
    FOLLOWUP_OFFER_INTRODUCEE,
    FOLLOWUP_QUESTION,
    INTRO_KINDS,
    INTRO_OFFER,
    INTRO_OPPORTUNITY,
    IntroRefused,
    NotOpen,
    NotYours,
    closed_status,
    refusal,
)
from shared.domain.tone import personal_remarks
from shared.logs import get_logger
from shared.service_layer import credits
from shared.service_layer.consumer import Delivery, PermanentError
from shared.service_layer.deps import Deps

log = get_logger(__name__)

AGENT = "intro"
FOLLOWUP_TASK = "intro_followup_check"
UowFactory = Callable[[], PostgresUnitOfWork]


def _emit(  # noqa: PLR0917 - the event's fields, in IntroFlowChanged's order
    uow: PostgresUnitOfWork,
    event_type: str,
    item_type: str,
    item_id: UUID,
    actor: IntroActor,
    status: str,
    members: dict[str, UUID | None],
    details: dict[str, Any] | None = None,
) -> None:
    uow.emit(
        ev.IntroFlowChanged(
            event_type, item_type, item_id, actor.user_id, actor.agent, status, members, details or {}
        ).event()
    )


def _actioned(uow: PostgresUnitOfWork, actor: IntroActor, item_type: str, item_id: UUID) -> None:
    """The member answered the item: its priority is actioned (agents.md §4.4 step 5, §13)."""
    uow.priorities.set_item_status(actor.user_id, item_type, item_id, "actioned")


# --- what both sides hear (through the queue, never straight into messages) ------------------------


def _tell(
    uow: PostgresUnitOfWork, user_id: UUID, text: str, now: datetime, *, kind: str, priority: str = "medium"
) -> bool:
    """Queue ``text`` for the member's point of contact, after the tone check; False when not sent."""
    problems = personal_remarks(text)
    if problems:
        log.warning(
            "intro message refused by the tone check", extra={"user_id": str(user_id), "words": problems}
        )
        return False
    user = uow.users.get(user_id)
    if user is None:
        return False
    return (
        queue_for_member(uow, user, now=now, text=text, message_data={"kind": kind}, priority=priority)
        is not None
    )


def _card_text(card: MemberCard) -> str:
    who = card.name + (
        f" ({card.title}, {card.company})"
        if card.title and card.company
        else f" ({card.company})"
        if card.company
        else ""
    )
    return who + (f", {card.email}" if card.email else "")


# --- the member's answers (IntroPort) --------------------------------------------------------------


class IntroService:
    """The intro use cases the Concierge's and Innovator's tools call (``IntroPort``)."""

    def offer_introduction(
        self, uow: PostgresUnitOfWork, actor: IntroActor, args: OfferIntroArgs
    ) -> Mapping[str, Any]:
        """agents.md §4.3.3, §12.4 step 1: "I can intro you to X". The introducee is whoever asked the
        request or connection request it answers, found from the member's own items, never named by the
        model."""
        intros = uow.intro_offers
        introducee: UUID | None = None
        context_type = args.context_type
        if context_type != "spontaneous" and args.context_id is None:
            raise ValueError(f"context_id is required when context_type is {context_type}")
        if context_type == "community_request":
            assert args.context_id is not None
            routed = intros.routed_request(actor.user_id, args.context_id)
            if routed is None or routed.requesting_user_id is None:
                raise NotYours("no open community request that reached this member has that id")
            introducee = routed.requesting_user_id
        elif context_type == "connection_request":
            assert args.context_id is not None
            requestor = intros.connection_requestor(actor.user_id, args.context_id)
            if requestor is None:
                raise NotYours("no open connection request to this member from a member has that id")
            introducee = requestor.id
        stored_type = context_type if introducee is not None else "nomination"
        context_id = args.context_id if introducee is not None else None
        context = args.target_context if not args.reason else f"{args.target_context}\n{args.reason}"
        offer = intros.add_offer(
            NewIntroOffer(
                user_id=actor.user_id,
                introducee_user_id=introducee,
                prospect_name=args.prospect_name,
                prospect_company=args.prospect_company,
                prospect_title=args.prospect_title,
                prospect_context=context,
                context_type=stored_type,
                context_id=context_id,
                expires_at=actor.now + INTRO_OFFER_EXPIRY,
            )
        )
        _emit(
            uow,
            ev.INTRO_OFFER_CREATED,
            INTRO_OFFER,
            offer.id,
            actor,
            offer.status,
            {"offering_user_id": actor.user_id, "introducee_user_id": introducee},
            {"prospect_name": args.prospect_name, "context_type": stored_type, "context_id": context_id},
        )
        if introducee is not None and args.context_id is not None:
            _actioned(uow, actor, context_type, args.context_id)
        return {
            "intro_offer": "created",
            "intro_offer_id": str(offer.id),
            "prospect_name": args.prospect_name,
            "waiting_on": "the other side to accept"
            if introducee is not None
            else "nobody yet (a nomination)",
        }

    def answer_opportunity(
        self,
        uow: PostgresUnitOfWork,
        actor: IntroActor,
        opportunity_id: UUID,
        *,
        accept: bool,
        reason: str | None,
    ) -> Mapping[str, Any]:
        """§12.2: the connector's yes or no. A yes first locks every opportunity for the same prospect (id
        order), so of two connectors accepting at once exactly one proceeds; the other finds theirs paused."""
        intros = uow.intro_offers
        if accept:
            intros.lock_prospect(actor.user_id, opportunity_id)
        status = "accepted" if accept else "declined"
        answer = intros.respond_opportunity(
            actor.user_id, opportunity_id, status=status, response=reason, now=actor.now
        )
        if answer is None:
            owned = intros.opportunity_of(actor.user_id, opportunity_id)
            raise refusal(INTRO_OPPORTUNITY, None if owned is None else closed_status(owned.status))
        _emit(
            uow,
            ev.INTRO_OPPORTUNITY_ACCEPTED if accept else ev.INTRO_OPPORTUNITY_DECLINED,
            INTRO_OPPORTUNITY,
            answer.id,
            actor,
            answer.status,
            {"connector_user_id": actor.user_id, "innovator_id": answer.other_user_id},
            {"prospect_id": answer.prospect_id, "bounty_credits": answer.bounty_credits},
        )
        _actioned(uow, actor, INTRO_OPPORTUNITY, answer.id)
        result: dict[str, Any] = {"intro_opportunity": status, "intro_opportunity_id": str(answer.id)}
        if accept:
            paused = intros.pause_siblings(answer.id)
            for sibling in paused:
                _emit_parties(uow, ev.INTRO_OPPORTUNITY_PAUSED, sibling, actor, {"paused_by": answer.id})
            if answer.other_user_id is not None:
                exchange_contacts(
                    uow,
                    actor.now,
                    actor.user_id,
                    answer.other_user_id,
                    about="Reply here once the intro is made.",
                )
            _both_accepted(uow, actor, INTRO_OPPORTUNITY, answer.id, actor.user_id, answer.other_user_id)
            result["siblings_paused"] = len(paused)
        return result

    def answer_connection_request(
        self,
        uow: PostgresUnitOfWork,
        actor: IntroActor,
        request_id: UUID,
        *,
        accept: bool,
        reason: str | None,
    ) -> Mapping[str, Any]:
        """§12.3: the introducee's yes or no (the requestor asked, so a yes is both sides)."""
        status = "accepted" if accept else "declined"
        answer = uow.intro_offers.respond_connection_request(
            actor.user_id, request_id, status=status, response=reason, now=actor.now
        )
        if answer is None:
            owned = uow.intro_offers.connection_request_of(actor.user_id, request_id)
            raise refusal(CONNECTION_REQUEST, None if owned is None else closed_status(owned.status))
        _emit(
            uow,
            ev.CONNECTION_REQUEST_ACCEPTED if accept else ev.CONNECTION_REQUEST_DECLINED,
            CONNECTION_REQUEST,
            answer.id,
            actor,
            answer.status,
            {"introducee_user_id": actor.user_id, "requestor_user_id": answer.other_user_id},
            {"requestor_prospect_id": answer.prospect_id, "bounty_credits": answer.bounty_credits},
        )
        _actioned(uow, actor, CONNECTION_REQUEST, answer.id)
        return {"connection_request": status, "connection_request_id": str(answer.id)}

    def answer_offer(
        self,
        uow: PostgresUnitOfWork,
        actor: IntroActor,
        offer_id: UUID,
        *,
        action: OfferAction,
        reason: str | None,
    ) -> Mapping[str, Any]:
        """§12.4: the introducee accepts or declines (step 2-3), then the connector confirms or declines
        (steps 4-5). A confirm before the introducee accepts is refused: the row does not wait on them."""
        intros = uow.intro_offers
        owned = intros.offer_of(actor.user_id, offer_id)
        if owned is None:
            raise refusal(INTRO_OFFER, None)
        role = owned.role if action == "decline" else ("introducee" if action == "accept" else "connector")
        answer: IntroAnswer | None
        if role == "introducee":
            status = "pending_connector_confirmation" if action == "accept" else "introducee_declined"
            answer = intros.introducee_respond(
                actor.user_id, offer_id, status=status, response=reason, now=actor.now
            )
        else:
            status = "confirmed" if action == "confirm" else "connector_declined"
            answer = intros.connector_respond(
                actor.user_id, offer_id, status=status, response=reason, now=actor.now
            )
        if answer is None:
            raise _offer_refusal(owned.role, owned.status, role)
        event_type = {
            "accept": ev.INTRO_OFFER_ACCEPTED,
            "decline": ev.INTRO_OFFER_DECLINED,
            "confirm": ev.INTRO_OFFER_CONFIRMED,
        }[action]
        offering, introducee = (
            (answer.other_user_id, actor.user_id)
            if role == "introducee"
            else (actor.user_id, answer.other_user_id)
        )
        _emit(
            uow,
            event_type,
            INTRO_OFFER,
            answer.id,
            actor,
            answer.status,
            {"offering_user_id": offering, "introducee_user_id": introducee},
            {
                "bounty_credits": answer.bounty_credits,
                "context_type": answer.context_type,
                "context_id": answer.context_id,
                "answered_by": role,
            },
        )
        _actioned(uow, actor, INTRO_OFFER, answer.id)
        word = {"accept": "accepted", "decline": "declined", "confirm": "confirmed"}[action]
        result: dict[str, Any] = {"intro_offer": word, "intro_offer_id": str(answer.id)}
        if action == "accept":
            result["waiting_on"] = "the connector to confirm"
        return result

    def request_connection(
        self, uow: PostgresUnitOfWork, actor: IntroActor, args: RequestConnectionArgs
    ) -> Mapping[str, Any]:
        """agents.md §5 tool 5: a connection_requests row from the acting innovator to a verified member.
        Nothing about the target is returned (double opt-in, B17)."""
        made = uow.intro_offers.add_connection_request(
            NewConnectionRequest(
                user_id=actor.user_id,
                target_user_id=args.target_user_id,
                intro_context=args.intro_context,
                bounty_credits=args.offer_credits,
                expires_at=actor.now + CONNECTION_REQUEST_EXPIRY,
            )
        )
        if made is None:
            raise NotYours("no member this member can ask to meet has that id")
        request_id, created = made
        if created:
            _emit(
                uow,
                ev.CONNECTION_REQUEST_CREATED,
                CONNECTION_REQUEST,
                request_id,
                actor,
                "open",
                {"requestor_user_id": actor.user_id, "introducee_user_id": args.target_user_id},
                {"bounty_credits": args.offer_credits},
            )
        return {
            "connection_request": "created" if created else "already_requested",
            "connection_request_id": str(request_id),
        }

    def record_outcome(
        self, uow: PostgresUnitOfWork, actor: IntroActor, *, met: bool, reason: str | None
    ) -> Mapping[str, Any]:
        """The member's answer to the +7-day "did you meet?": against their latest intro waiting on it."""
        pending = uow.intro_offers.awaiting_outcome(actor.user_id)
        if pending is None:
            raise NotYours("this member has no accepted introduction waiting to hear whether they met")
        outcome = record_outcome(uow, actor, pending.role, pending.id, met=met, reason=reason)
        return {"intro_outcome": "met" if met else "not_met", **outcome.as_dict()}


def _offer_refusal(owned_role: str, owned_status: str, role: str) -> IntroRefused:
    if owned_role != role:
        waiting = "the introducee" if role == "introducee" else "the member who offered it"
        if role == "connector" and owned_status == "pending_introducee_response":
            return NotOpen("that intro offer still waits on the introducee to accept; nothing changed")
        return NotOpen(f"that intro offer waits on {waiting}, not on this member; nothing changed")
    if role == "connector" and owned_status == "pending_introducee_response":
        return NotOpen("that intro offer still waits on the introducee to accept; nothing changed")
    return refusal(INTRO_OFFER, closed_status(owned_status))


def _emit_parties(
    uow: PostgresUnitOfWork, event_type: str, row: IntroParties, actor: IntroActor, details: dict[str, Any]
) -> None:
    names = {
        INTRO_OPPORTUNITY: ("connector_user_id", "innovator_id"),
        INTRO_OFFER: ("offering_user_id", "introducee_user_id"),
        CONNECTION_REQUEST: ("introducee_user_id", "requestor_user_id"),
    }[row.kind]
    if actor.user_id.int == 0:  # the system acts (expiry, reminders): the event names the row's own member
        actor = replace(actor, user_id=row.payee_user_id or row.other_user_id or actor.user_id)
    _emit(
        uow,
        event_type,
        row.kind,
        row.id,
        actor,
        row.status,
        {names[0]: row.payee_user_id, names[1]: row.other_user_id},
        {"bounty_credits": row.bounty_credits, **details},
    )


# --- both sides accepted: the follow-up check-in (agents.md §10, B20) -------------------------------


def _both_accepted(  # noqa: PLR0917
    uow: PostgresUnitOfWork,
    actor: IntroActor,
    kind: str,
    item_id: UUID,
    first: UUID | None,
    second: UUID | None,
) -> None:
    """Schedule the +7-day "did you meet?" for the row (once per row: the task's dedupe key)."""
    create_task(
        uow,
        task_type=FOLLOWUP_TASK,
        agent_type=AGENT,
        user_id=first,
        scheduled_for=actor.now + INTRO_FOLLOWUP_AFTER,
        priority="medium",
        context_json={
            "kind": kind,
            "item_id": str(item_id),
            "members": [str(u) for u in (first, second) if u],
        },
        context_id=item_id,
        context_type=kind,
        created_by=actor.agent,
    )


OFFER_CONNECTOR_NEXT = "Over to you for the introduction you offered. Reply here once it's made."
OFFER_INTRODUCEE_NEXT = "They'll make the introduction they offered. Reply here once you've met."


def exchange_contacts(
    uow: PostgresUnitOfWork,
    now: datetime,
    first: UUID,
    second: UUID,
    *,
    about: str,
    about_second: str | None = None,
) -> int:
    """decisions B17: each side gets the other's name, company and verified email, through the queue, and
    only once both accepted (the callers are the both-accepted events). ``about`` ends the first
    member's message, ``about_second`` the second's (``about`` when not given). Returns the messages
    queued."""
    cards = uow.intro_offers.member_cards([first, second])
    sent = 0
    for me, other in ((first, second), (second, first)):
        card = cards.get(other)
        if card is None or me not in cards:
            continue
        ending = about if me == first or about_second is None else about_second
        text = f"You're connected: {_card_text(card)}. {ending}".strip()
        sent += _tell(uow, me, text, now, kind="intro_contacts", priority="high")
    return sent


@dataclass
class Outcome:
    kind: str
    item_id: UUID
    status: str
    paid: int = 0
    cancelled: list[UUID] = field(default_factory=list)
    released: list[UUID] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": str(self.item_id),
            "status": self.status,
            "paid": self.paid,
            "siblings_cancelled": len(self.cancelled),
            "siblings_released": len(self.released),
        }


def record_outcome(
    uow: PostgresUnitOfWork,
    actor: IntroActor,
    kind: str,
    item_id: UUID,
    *,
    met: bool,
    reason: str | None = None,
) -> Outcome:
    """The answer to "did you meet?" from either side (decisions B20). Yes: the row -> completed (guarded on
    its accepted/confirmed status and the acting member being one of its sides), siblings cancelled, the
    bounty paid once under ``intro_completed_{id}_{payee}``, the other side told. No: the reason is
    logged and nothing is paid."""
    if kind not in INTRO_KINDS:
        raise ValueError(f"kind must be one of {', '.join(INTRO_KINDS)}")
    intros = uow.intro_offers
    if not met:
        return _record_not_met(uow, actor, kind, item_id, reason)
    complete = {
        INTRO_OPPORTUNITY: intros.complete_opportunity,
        INTRO_OFFER: intros.complete_offer,
        CONNECTION_REQUEST: intros.complete_connection_request,
    }[kind]
    row = complete(actor.user_id, item_id, actor.now)
    if row is None:
        raise NotOpen(
            f"no accepted {kind.replace('_', ' ')} of this member has that id, or it is already completed;"
            " nothing changed"
        )
    event_type = {
        INTRO_OPPORTUNITY: ev.INTRO_OPPORTUNITY_COMPLETED,
        INTRO_OFFER: ev.INTRO_OFFER_COMPLETED,
        CONNECTION_REQUEST: ev.CONNECTION_REQUEST_COMPLETED,
    }[kind]
    _emit_parties(uow, event_type, row, actor, {"reported_by": actor.user_id})
    outcome = Outcome(kind, row.id, row.status)
    if kind == INTRO_OPPORTUNITY:
        for sibling in intros.cancel_siblings(row.id):
            _emit_parties(uow, ev.INTRO_OPPORTUNITY_CANCELLED, sibling, actor, {"completed_by": row.id})
            outcome.cancelled.append(sibling.id)
    if row.payee_user_id is not None and row.bounty_credits > 0:
        credits.award(
            uow,
            user_id=row.payee_user_id,
            amount=row.bounty_credits,
            event_type=credit_rules.INTRO_COMPLETED,
            reference_type=kind,
            reference_id=row.id,
            idempotency_key=credit_rules.intro_completed_key(row.id, row.payee_user_id),
            description="Introduction completed",
            recorded_by=actor.agent,
        )
        outcome.paid = row.bounty_credits
    if row.payee_user_id is not None and row.payee_user_id != actor.user_id:
        paid = f" {row.bounty_credits} credits are on their way to you." if outcome.paid else ""
        _tell(
            uow,
            row.payee_user_id,
            f"Good news: the intro you made happened.{paid} Thank you!",
            actor.now,
            kind="intro_outcome",
        )
    return outcome


def _record_not_met(
    uow: PostgresUnitOfWork, actor: IntroActor, kind: str, item_id: UUID, reason: str | None
) -> Outcome:
    """ "No, we didn't meet" (B20): the row -> cancelled with the reason (guarded like completion), nothing
    paid; an opportunity's paused siblings reopen (another connector may yet make the intro); the
    connector is told when someone else answered."""
    intros = uow.intro_offers
    not_met = {
        INTRO_OPPORTUNITY: intros.not_met_opportunity,
        INTRO_OFFER: intros.not_met_offer,
        CONNECTION_REQUEST: intros.not_met_connection_request,
    }[kind]
    why = (reason or "").strip()[:NOT_MET_REASON_MAX] or None
    row = not_met(actor.user_id, item_id, actor.now, why)
    if row is None:
        raise NotOpen(
            f"no accepted {kind.replace('_', ' ')} of this member has that id, or its outcome is already"
            " recorded; nothing changed"
        )
    event_type = {
        INTRO_OPPORTUNITY: ev.INTRO_OPPORTUNITY_NOT_MET,
        INTRO_OFFER: ev.INTRO_OFFER_NOT_MET,
        CONNECTION_REQUEST: ev.CONNECTION_REQUEST_NOT_MET,
    }[kind]
    _emit_parties(uow, event_type, row, actor, {"reported_by": actor.user_id, "reason": why})
    log.info("intro did not happen", extra={"kind": kind, "id": str(row.id), "reason": why})
    outcome = Outcome(kind, row.id, row.status)
    if kind == INTRO_OPPORTUNITY:
        for sibling in intros.release_siblings(row.id):
            _emit_parties(uow, ev.INTRO_OPPORTUNITY_RELEASED, sibling, actor, {"not_met": row.id})
            outcome.released.append(sibling.id)
    if row.payee_user_id is not None and row.payee_user_id != actor.user_id:
        _tell(
            uow,
            row.payee_user_id,
            "Thanks for offering that intro. I heard the two of them didn't get to meet, so I've closed it;"
            " no action needed from you.",
            actor.now,
            kind="intro_outcome",
        )
    return outcome


# --- the Intro agent (agent_intro): event and task handlers ----------------------------------------


def _payload(delivery: Delivery) -> dict[str, Any]:
    payload = delivery.data.get("payload") or {}
    if not isinstance(payload, dict):
        raise PermanentError(f"{delivery.type} payload is not an object")
    return payload


def _uuid(value: Any, what: str) -> UUID:
    try:
        return UUID(str(value))
    except (TypeError, ValueError):
        raise PermanentError(f"{what} is missing or not a uuid: {value!r}") from None


def _system_actor(deps: Deps) -> IntroActor:
    return IntroActor(user_id=UUID(int=0), agent=AGENT, now=deps.clock())


def handle_event(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """The Intro agent's events (``INTRO_AGENT_EVENTS``)."""
    payload = _payload(delivery)
    now = deps.clock()
    if delivery.type == ev.INTRO_OPPORTUNITY_CREATED:
        return _talking_points(uow, deps, _uuid(payload.get("intro_opportunity_id"), "intro_opportunity_id"))
    if delivery.type == ev.INTRO_OFFER_CONFIRMED:
        offer_id = _uuid(payload.get("intro_offer_id"), "intro_offer_id")
        offering = _uuid(payload.get("offering_user_id"), "offering_user_id")
        introducee = _uuid(payload.get("introducee_user_id"), "introducee_user_id")
        # An offer's connector makes the introduction to the person they offered; the introducee
        # meets that person (found on the local stack: both were told "Reply here once you've met.")
        sent = exchange_contacts(
            uow,
            now,
            offering,
            introducee,
            about=OFFER_CONNECTOR_NEXT,
            about_second=OFFER_INTRODUCEE_NEXT,
        )
        _both_accepted(uow, _system_actor(deps), INTRO_OFFER, offer_id, offering, introducee)
        return {"contacts_sent": sent, "followup": "scheduled"}
    if delivery.type == ev.CONNECTION_REQUEST_ACCEPTED:
        request_id = _uuid(payload.get("connection_request_id"), "connection_request_id")
        introducee = _uuid(payload.get("introducee_user_id"), "introducee_user_id")
        requestor = payload.get("requestor_user_id")
        if requestor is None:  # a prospect asked: no member on the other side to exchange with
            return {"contacts_sent": 0, "reason": "requestor is a prospect"}
        requestor_id = _uuid(requestor, "requestor_user_id")
        sent = exchange_contacts(uow, now, introducee, requestor_id, about="Reply here once you've met.")
        _both_accepted(uow, _system_actor(deps), CONNECTION_REQUEST, request_id, introducee, requestor_id)
        return {"contacts_sent": sent, "followup": "scheduled"}
    if delivery.type in (
        ev.INTRO_OFFER_DECLINED,
        ev.INTRO_OPPORTUNITY_DECLINED,
        ev.CONNECTION_REQUEST_DECLINED,
    ):
        log.info(
            "intro declined", extra={"event_type": delivery.type, "reason_given": bool(payload.get("reason"))}
        )
        return {"recorded": delivery.type}
    raise PermanentError(f"the Intro agent does not handle {delivery.type}")


def _talking_points(uow: PostgresUnitOfWork, deps: Deps, opportunity_id: UUID) -> dict[str, Any]:
    brief = uow.intro_offers.opportunity_brief(opportunity_id)
    if brief is None:
        raise PermanentError(f"no intro opportunity {opportunity_id}")
    if brief.talking_points is not None:
        return {"talking_points": "already stored"}
    text, path = talking_points(deps.llm, brief)
    if not uow.intro_offers.set_talking_points(opportunity_id, text):
        return {"talking_points": "already stored"}
    uow.emit(
        ev.Event(
            event_type=ev.PRIORITY_INTRO_ADDED,
            aggregate_type=INTRO_OPPORTUNITY,
            aggregate_id=opportunity_id,
            payload={
                "intro_opportunity_id": str(opportunity_id),
                "connector_user_id": str(brief.connector_user_id),
                "priority": "high",
            },
            created_by=AGENT,
        )
    )
    return {"talking_points": path}


def handle_followup_task(delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None:
    """``intro_followup_check`` (+7 days): ask each side, in one short text, whether they met."""
    context = delivery.data.get("context_json") or {}
    if not isinstance(context, dict):
        raise PermanentError("intro_followup_check without a context")
    members = [_uuid(m, "member") for m in context.get("members") or []]
    cards = uow.intro_offers.member_cards(members)
    questions = _offer_followups(uow, context, members, cards)
    asked = 0
    for me in members:
        others = [cards[o].name for o in members if o != me and o in cards]
        name = others[0] if others else "your introduction"
        text = questions.get(me) or FOLLOWUP_QUESTION.format(name=name)
        asked += _tell(uow, me, text, deps.clock(), kind="intro_followup")
    return {"asked": asked, "kind": context.get("kind"), "id": context.get("item_id")}


def _offer_followups(
    uow: PostgresUnitOfWork, context: Mapping[str, Any], members: list[UUID], cards: Mapping[UUID, Any]
) -> dict[UUID, str]:
    """An intro offer's check-in, per side: the connector (first) is asked whether the introducee met
    the person offered, the introducee (second) whether they met that person; {} for other kinds."""
    if context.get("kind") != INTRO_OFFER or len(members) != 2:  # the connector and the introducee
        return {}
    prospect = uow.intro_offers.prospect_of(_uuid(context.get("item_id"), "item_id"))
    if not prospect:
        return {}
    connector, introducee = members
    return {
        connector: FOLLOWUP_OFFER_CONNECTOR.format(
            introducee=cards[introducee].name if introducee in cards else "the member", prospect=prospect
        ),
        introducee: FOLLOWUP_OFFER_INTRODUCEE.format(
            prospect=prospect, connector=cards[connector].name if connector in cards else "the member"
        ),
    }


# --- the expiry and reminder job ---------------------------------------------------------------------

INTRO_EXPIRY_ACTOR = "intro_expiry"


@dataclass
class ExpiryReport:
    expired: dict[str, int] = field(default_factory=dict)
    reminded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"expired": dict(self.expired), "reminded": self.reminded}


REMINDER_TEXT = (
    "Reminder: you offered an intro to {prospect}, and the other side said yes. "
    "Can you still make it? Reply to confirm, or tell me if it's not going to work."
)


def run_intro_expiry(uow_factory: UowFactory, *, now: datetime) -> ExpiryReport:
    """Rows past ``expires_at`` -> expired (each with its event); connectors who have not confirmed an
    accepted offer 3 days on get one reminder (``intro.offer_reminder``; marked in the same statement)."""
    report = ExpiryReport()
    actor = IntroActor(user_id=UUID(int=0), agent=AGENT, now=now)
    with uow_factory() as uow:
        intros = uow.intro_offers
        for kind, expire, event_type in (
            (INTRO_OPPORTUNITY, intros.expire_opportunities, ev.INTRO_OPPORTUNITY_EXPIRED),
            (INTRO_OFFER, intros.expire_offers, ev.INTRO_OFFER_EXPIRED),
            (CONNECTION_REQUEST, intros.expire_connection_requests, ev.CONNECTION_REQUEST_EXPIRED),
        ):
            rows = expire(now, INTRO_EXPIRY_BATCH)
            for row in rows:
                _emit_parties(uow, event_type, row, actor, {"expired_at": now.isoformat()})
            report.expired[kind] = len(rows)
        for row in intros.claim_offer_reminders(now, now - INTRO_OFFER_REMINDER_AFTER, INTRO_EXPIRY_BATCH):
            _emit_parties(uow, ev.INTRO_OFFER_REMINDER, row, actor, {})
            if row.payee_user_id is not None:
                _tell(
                    uow,
                    row.payee_user_id,
                    REMINDER_TEXT.format(prospect=row.prospect_name or "them"),
                    now,
                    kind="intro_offer_reminder",
                )
            report.reminded += 1
        uow.commit()
    log.info("intro expiry run", extra=report.as_dict())
    return report
