"""The intro flows' entry side and the expert's side (agents.md §4.3.3-§4.3.8, §4.6, §5 tool 5, §12).

The member's answers to what was presented to them, and the intros they volunteer or ask for. Each
tool acts for ``turn.user_id`` (the delivery's member), never for an id the model names, and calls the
intro services (``shared.service_layer.intros``, issue 12) through the ``IntroPort`` the service layer
hands the agent: every transition there is one guarded statement that also names the acting member, so
an id of an item addressed to someone else is simply not found and the tool fails with a clear error
(``shared.domain.intros.IntroRefused``), and nothing changes. Results carry ids and statuses only: no
other member's name or contact details reach this member before both sides have accepted (decisions B17).
"""

from __future__ import annotations

from typing import Any

from shared.agents.concierge.decision import (
    CommunityResponseArgs,
    ConnectionRequestArgs,
    IntroOfferArgs,
    IntroOpportunityArgs,
    IntroOutcomeArgs,
    OfferIntroArgs,
    RequestConnectionArgs,
)
from shared.agents.concierge.intro_port import IntroActor, IntroPort
from shared.agents.concierge.state import ConciergeTurn
from shared.domain.intros import NotOpen, NotYours

__all__ = ["NotOpen", "NotYours"]


def _intros(turn: ConciergeTurn) -> IntroPort:
    if turn.state.intros is None:
        raise RuntimeError("intro tools are not available in this turn")
    return turn.state.intros


def _actor(turn: ConciergeTurn) -> IntroActor:
    return IntroActor(user_id=turn.user_id, agent=turn.state.agent, now=turn.now)


def _actioned(turn: ConciergeTurn, item_type: str, item_id: Any) -> None:
    """The member answered the item: its priority is actioned (agents.md §4.4 step 5, §13)."""
    turn.uow.priorities.set_item_status(turn.user_id, item_type, item_id, "actioned")


def offer_introduction(turn: ConciergeTurn, args: OfferIntroArgs) -> dict[str, Any]:
    """agents.md §4.3.3, §12.4 step 1: "I can intro you to X"."""
    return dict(_intros(turn).offer_introduction(turn.uow, _actor(turn), args))


def accept_intro_opportunity(turn: ConciergeTurn, args: IntroOpportunityArgs) -> dict[str, Any]:
    return dict(
        _intros(turn).answer_opportunity(
            turn.uow, _actor(turn), args.intro_opportunity_id, accept=True, reason=args.reason
        )
    )


def decline_intro_opportunity(turn: ConciergeTurn, args: IntroOpportunityArgs) -> dict[str, Any]:
    return dict(
        _intros(turn).answer_opportunity(
            turn.uow, _actor(turn), args.intro_opportunity_id, accept=False, reason=args.reason
        )
    )


def accept_connection_request(turn: ConciergeTurn, args: ConnectionRequestArgs) -> dict[str, Any]:
    return dict(
        _intros(turn).answer_connection_request(
            turn.uow, _actor(turn), args.connection_request_id, accept=True, reason=args.reason
        )
    )


def decline_connection_request(turn: ConciergeTurn, args: ConnectionRequestArgs) -> dict[str, Any]:
    return dict(
        _intros(turn).answer_connection_request(
            turn.uow, _actor(turn), args.connection_request_id, accept=False, reason=args.reason
        )
    )


def accept_intro_offer(turn: ConciergeTurn, args: IntroOfferArgs) -> dict[str, Any]:
    """§12.4 step 3: the introducee accepts; the offer moves to the connector for confirmation."""
    return dict(
        _intros(turn).answer_offer(
            turn.uow, _actor(turn), args.intro_offer_id, action="accept", reason=args.reason
        )
    )


def decline_intro_offer(turn: ConciergeTurn, args: IntroOfferArgs) -> dict[str, Any]:
    """§12.4 steps 2 and 4: the introducee declines, or the connector can't follow through."""
    return dict(
        _intros(turn).answer_offer(
            turn.uow, _actor(turn), args.intro_offer_id, action="decline", reason=args.reason
        )
    )


def confirm_intro_offer(turn: ConciergeTurn, args: IntroOfferArgs) -> dict[str, Any]:
    """§12.4 step 5: the connector confirms; the Intro agent closes the loop with both sides."""
    return dict(
        _intros(turn).answer_offer(
            turn.uow, _actor(turn), args.intro_offer_id, action="confirm", reason=args.reason
        )
    )


def record_intro_outcome(turn: ConciergeTurn, args: IntroOutcomeArgs) -> dict[str, Any]:
    """The member's answer to the +7-day check-in: "yes" completes their latest accepted intro (and pays its
    bounty once), "no" records that it did not happen (decisions B20)."""
    return dict(_intros(turn).record_outcome(turn.uow, _actor(turn), met=args.met, reason=args.reason))


def request_connection(turn: ConciergeTurn, args: RequestConnectionArgs) -> dict[str, Any]:
    """agents.md §5 tool 5: a connection request from the acting innovator to a verified member."""
    return dict(_intros(turn).request_connection(turn.uow, _actor(turn), args))


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
