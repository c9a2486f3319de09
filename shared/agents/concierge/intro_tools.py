"""The intro flows' entry side and the expert's side (agents.md §4.3.3-§4.3.8, §4.6, §5 tool 5, §12).

The member's answers to what was presented to them, and the intros they volunteer or ask for. Each
handler acts for ``turn.user_id`` (the delivery's member), never for an id the model names: every
row is read and changed through a query that also names the acting member, so an id of an item
addressed to someone else is simply not found and the tool fails with an error (issue 16, "Bad
input"). Each writes its status transition and publishes its event in the turn's outbox; the Intro
agent (issue 12) consumes most of them, and until it is deployed they wait as replayable dead
letters. Results carry ids and statuses only: no other member's name or contact details reach this
member before both sides have accepted (decisions B17).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.adapters.repositories.offers import IntroAnswer, NewConnectionRequest, NewIntroOffer
from shared.agents.concierge.decision import (
    CommunityResponseArgs,
    ConnectionRequestArgs,
    IntroOfferArgs,
    IntroOpportunityArgs,
    OfferIntroArgs,
    RequestConnectionArgs,
)
from shared.agents.concierge.state import ConciergeTurn
from shared.domain.constants import CONNECTION_REQUEST_EXPIRY, INTRO_OFFER_EXPIRY
from shared.domain.events import (
    CONNECTION_REQUEST_ACCEPTED,
    CONNECTION_REQUEST_CREATED,
    CONNECTION_REQUEST_DECLINED,
    INTRO_OFFER_ACCEPTED,
    INTRO_OFFER_CONFIRMED,
    INTRO_OFFER_CREATED,
    INTRO_OFFER_DECLINED,
    INTRO_OPPORTUNITY_ACCEPTED,
    INTRO_OPPORTUNITY_DECLINED,
    IntroFlowChanged,
)

OPEN = ("open", "presented", "clarifying")


class NotYours(LookupError):
    """The id names no item addressed to the acting member (someone else's, or none at all)."""


class NotOpen(ValueError):
    """The member's own item, but no longer waiting on this answer."""


def _emit(turn: ConciergeTurn, change: IntroFlowChanged) -> None:
    turn.uow.emit(change.event())


def _actioned(turn: ConciergeTurn, item_type: str, item_id: UUID) -> None:
    """The member answered the item: its priority is actioned (agents.md §4.4 step 5, §13)."""
    turn.uow.priorities.set_item_status(turn.user_id, item_type, item_id, "actioned")


def _refuse(kind: str, status: str | None) -> Exception:
    if status is None:
        return NotYours(f"no {kind} addressed to this member has that id")
    return NotOpen(f"that {kind} is {status.replace('_', ' ')}; nothing changed")


# --- offer_introduction ---------------------------------------------------------------------------


def offer_introduction(turn: ConciergeTurn, args: OfferIntroArgs) -> dict[str, Any]:
    """agents.md §4.3.3, §12.4 step 1: "I can intro you to X". The introducee is whoever asked the
    request or connection request it answers, found from the member's own items, never named by the model."""
    intros = turn.uow.intro_offers
    introducee: UUID | None = None
    context_type = args.context_type
    if context_type != "spontaneous" and args.context_id is None:
        raise ValueError(f"context_id is required when context_type is {context_type}")
    if context_type == "community_request":
        assert args.context_id is not None
        routed = intros.routed_request(turn.user_id, args.context_id)
        if routed is None or routed.requesting_user_id is None:
            raise NotYours("no open community request that reached this member has that id")
        introducee = routed.requesting_user_id
    elif context_type == "connection_request":
        assert args.context_id is not None
        requestor = intros.connection_requestor(turn.user_id, args.context_id)
        if requestor is None:
            raise NotYours("no open connection request to this member from a member has that id")
        introducee = requestor.id
    stored_type = context_type if introducee is not None else "nomination"
    context = args.target_context if not args.reason else f"{args.target_context}\n{args.reason}"
    offer = intros.add_offer(
        NewIntroOffer(
            user_id=turn.user_id,
            introducee_user_id=introducee,
            prospect_name=args.prospect_name,
            prospect_company=args.prospect_company,
            prospect_title=args.prospect_title,
            prospect_context=context,
            context_type=stored_type,
            context_id=args.context_id if introducee is not None else None,
            expires_at=turn.now + INTRO_OFFER_EXPIRY,
        )
    )
    _emit(
        turn,
        IntroFlowChanged(
            INTRO_OFFER_CREATED,
            "intro_offer",
            offer.id,
            turn.user_id,
            turn.state.agent,
            offer.status,
            members={"offering_user_id": turn.user_id, "introducee_user_id": introducee},
            details={
                "prospect_name": args.prospect_name,
                "context_type": stored_type,
                "context_id": args.context_id if introducee is not None else None,
            },
        ),
    )
    if introducee is not None and args.context_id is not None:
        _actioned(turn, context_type, args.context_id)
    return {
        "intro_offer": "created",
        "intro_offer_id": str(offer.id),
        "prospect_name": args.prospect_name,
        "waiting_on": "the other side to accept" if introducee is not None else "nobody yet (a nomination)",
    }


# --- intro opportunities (the connector) -----------------------------------------------------------


def _answer_opportunity(turn: ConciergeTurn, args: IntroOpportunityArgs, *, accept: bool) -> dict[str, Any]:
    status = "accepted" if accept else "declined"
    answer = turn.uow.intro_offers.respond_opportunity(
        turn.user_id, args.intro_opportunity_id, status=status, response=args.reason, now=turn.now
    )
    if answer is None:
        owned = turn.uow.intro_offers.opportunity_of(turn.user_id, args.intro_opportunity_id)
        raise _refuse("intro opportunity", None if owned is None else _closed(owned.status))
    _emit(
        turn,
        IntroFlowChanged(
            INTRO_OPPORTUNITY_ACCEPTED if accept else INTRO_OPPORTUNITY_DECLINED,
            "intro_opportunity",
            answer.id,
            turn.user_id,
            turn.state.agent,
            answer.status,
            members={"connector_user_id": turn.user_id, "innovator_id": answer.other_user_id},
            details={"prospect_id": answer.prospect_id, "bounty_credits": answer.bounty_credits},
        ),
    )
    _actioned(turn, "intro_opportunity", answer.id)
    return {"intro_opportunity": status, "intro_opportunity_id": str(answer.id)}


def _closed(status: str) -> str:
    """A row still open but not answerable (expired by date) reads as expired."""
    return "expired" if status in OPEN else status


def accept_intro_opportunity(turn: ConciergeTurn, args: IntroOpportunityArgs) -> dict[str, Any]:
    return _answer_opportunity(turn, args, accept=True)


def decline_intro_opportunity(turn: ConciergeTurn, args: IntroOpportunityArgs) -> dict[str, Any]:
    return _answer_opportunity(turn, args, accept=False)


# --- connection requests (the introducee) ----------------------------------------------------------


def _answer_connection(turn: ConciergeTurn, args: ConnectionRequestArgs, *, accept: bool) -> dict[str, Any]:
    status = "accepted" if accept else "declined"
    answer = turn.uow.intro_offers.respond_connection_request(
        turn.user_id, args.connection_request_id, status=status, response=args.reason, now=turn.now
    )
    if answer is None:
        owned = turn.uow.intro_offers.connection_request_of(turn.user_id, args.connection_request_id)
        raise _refuse("connection request", None if owned is None else _closed(owned.status))
    _emit(
        turn,
        IntroFlowChanged(
            CONNECTION_REQUEST_ACCEPTED if accept else CONNECTION_REQUEST_DECLINED,
            "connection_request",
            answer.id,
            turn.user_id,
            turn.state.agent,
            answer.status,
            members={"introducee_user_id": turn.user_id, "requestor_user_id": answer.other_user_id},
            details={"requestor_prospect_id": answer.prospect_id, "bounty_credits": answer.bounty_credits},
        ),
    )
    _actioned(turn, "connection_request", answer.id)
    return {"connection_request": status, "connection_request_id": str(answer.id)}


def accept_connection_request(turn: ConciergeTurn, args: ConnectionRequestArgs) -> dict[str, Any]:
    return _answer_connection(turn, args, accept=True)


def decline_connection_request(turn: ConciergeTurn, args: ConnectionRequestArgs) -> dict[str, Any]:
    return _answer_connection(turn, args, accept=False)


# --- intro offers (introducee: accept/decline; connector: confirm/decline) -------------------------


def _offer_event(turn: ConciergeTurn, event_type: str, answer: IntroAnswer, *, by: str) -> None:
    offering, introducee = (
        (answer.other_user_id, turn.user_id) if by == "introducee" else (turn.user_id, answer.other_user_id)
    )
    _emit(
        turn,
        IntroFlowChanged(
            event_type,
            "intro_offer",
            answer.id,
            turn.user_id,
            turn.state.agent,
            answer.status,
            members={"offering_user_id": offering, "introducee_user_id": introducee},
            details={
                "bounty_credits": answer.bounty_credits,
                "context_type": answer.context_type,
                "context_id": answer.context_id,
                "answered_by": by,
            },
        ),
    )


def _offer_refusal(turn: ConciergeTurn, offer_id: UUID, *, role: str) -> Exception:
    owned = turn.uow.intro_offers.offer_of(turn.user_id, offer_id)
    if owned is None:
        return _refuse("intro offer", None)
    if owned.role != role:
        waiting = "the introducee" if role == "introducee" else "the member who offered it"
        return NotOpen(f"that intro offer waits on {waiting}, not on this member; nothing changed")
    status = owned.status
    if status in ("pending_introducee_response", "pending_connector_confirmation"):
        status = "expired"
    return _refuse("intro offer", status)


def accept_intro_offer(turn: ConciergeTurn, args: IntroOfferArgs) -> dict[str, Any]:
    """§12.4 step 3: the introducee accepts; the offer moves to the connector for confirmation."""
    answer = turn.uow.intro_offers.introducee_respond(
        turn.user_id,
        args.intro_offer_id,
        status="pending_connector_confirmation",
        response=args.reason,
        now=turn.now,
    )
    if answer is None:
        raise _offer_refusal(turn, args.intro_offer_id, role="introducee")
    _offer_event(turn, INTRO_OFFER_ACCEPTED, answer, by="introducee")
    _actioned(turn, "intro_offer", answer.id)
    return {
        "intro_offer": "accepted",
        "intro_offer_id": str(answer.id),
        "waiting_on": "the connector to confirm",
    }


def decline_intro_offer(turn: ConciergeTurn, args: IntroOfferArgs) -> dict[str, Any]:
    """§12.4 steps 2 and 4: the introducee declines, or the connector can't follow through."""
    owned = turn.uow.intro_offers.offer_of(turn.user_id, args.intro_offer_id)
    if owned is None:
        raise _refuse("intro offer", None)
    if owned.role == "introducee":
        answer = turn.uow.intro_offers.introducee_respond(
            turn.user_id,
            args.intro_offer_id,
            status="introducee_declined",
            response=args.reason,
            now=turn.now,
        )
    else:
        answer = turn.uow.intro_offers.connector_respond(
            turn.user_id, args.intro_offer_id, status="connector_declined", response=args.reason, now=turn.now
        )
    if answer is None:
        raise _offer_refusal(turn, args.intro_offer_id, role=owned.role)
    _offer_event(turn, INTRO_OFFER_DECLINED, answer, by=owned.role)
    _actioned(turn, "intro_offer", answer.id)
    return {"intro_offer": "declined", "intro_offer_id": str(answer.id)}


def confirm_intro_offer(turn: ConciergeTurn, args: IntroOfferArgs) -> dict[str, Any]:
    """§12.4 step 5: the connector confirms; the Intro agent closes the loop with both sides."""
    answer = turn.uow.intro_offers.connector_respond(
        turn.user_id, args.intro_offer_id, status="confirmed", response=args.reason, now=turn.now
    )
    if answer is None:
        raise _offer_refusal(turn, args.intro_offer_id, role="connector")
    _offer_event(turn, INTRO_OFFER_CONFIRMED, answer, by="connector")
    _actioned(turn, "intro_offer", answer.id)
    return {"intro_offer": "confirmed", "intro_offer_id": str(answer.id)}


# --- request_connection (Innovator) ----------------------------------------------------------------


def request_connection(turn: ConciergeTurn, args: RequestConnectionArgs) -> dict[str, Any]:
    """agents.md §5 tool 5: a connection_requests row from the acting innovator to a verified member.
    Nothing about the target is returned (double opt-in, B17)."""
    made = turn.uow.intro_offers.add_connection_request(
        NewConnectionRequest(
            user_id=turn.user_id,
            target_user_id=args.target_user_id,
            intro_context=args.intro_context,
            bounty_credits=args.offer_credits,
            expires_at=turn.now + CONNECTION_REQUEST_EXPIRY,
        )
    )
    if made is None:
        raise NotYours("no member this member can ask to meet has that id")
    request_id, created = made
    if created:
        _emit(
            turn,
            IntroFlowChanged(
                CONNECTION_REQUEST_CREATED,
                "connection_request",
                request_id,
                turn.user_id,
                turn.state.agent,
                "open",
                members={"requestor_user_id": turn.user_id, "introducee_user_id": args.target_user_id},
                details={"bounty_credits": args.offer_credits},
            ),
        )
    return {
        "connection_request": "created" if created else "already_requested",
        "connection_request_id": str(request_id),
    }


# --- the expert's side (agents.md §4.6, §4.3.8) ---------------------------------------------------


def record_community_response(turn: ConciergeTurn, args: CommunityResponseArgs) -> dict[str, Any]:
    """The member's answer to a community request that reached them, recorded by the Community service
    (``handle_expert_reply``: "pass" declines, "ask <name>" refers, anything else is an answer)."""
    community = turn.state.community
    if community is None:
        raise RuntimeError("recording answers is not available in this turn")
    if turn.uow.intro_offers.routed_request(turn.user_id, args.request_id) is None:
        raise NotYours("no open community request that reached this member has that id")
    result = dict(
        community.reply(
            turn.uow,
            request_id=args.request_id,
            expert_user_id=turn.user_id,
            text=args.response_text,
            now=turn.now,
        )
    )
    status = str(result.get("status"))
    if status in ("recorded", "already_recorded", "passed", "referred", "referral_stored"):
        _actioned(turn, "community_request", args.request_id)
    out: dict[str, Any] = {"community_response": status, "request_id": str(args.request_id)}
    if result.get("reply"):
        out["say"] = result["reply"]  # the Community service's own words (a refusal)
    return out
