"""The Concierge's tools (agents.md §4.3): real effects, always for the member whose turn it is.

Every handler takes the acting user from ``turn.user_id`` (the delivery), never from the model:
no argument model has a user field. Each returns a small dict that Call 2 (or the offline
brain) may cite; nothing else may be claimed. The framework runs each in a savepoint with a
timeout and turns an exception into ``{error, errorType}``.

Which issue owns what happens next:
- ``publish_community_request`` → ``community.request_needed`` (the Community issue's Agent of
  Humans inserts ``community_requests`` and routes it to experts);
- ``request_solution_research`` → ``user.inquiry.solution_needed`` (the Solution Saga issue);
- ``cancel_community_request`` and ``record_community_response`` → the Community service's public
  use cases (``community.cancel_request``, ``community.handle_expert_reply``), handed in as
  ``turn.state.community``;
- ``record_follow_up_answer`` → the Solution Saga's ``record_follow_up_answer``, handed in as
  ``turn.state.saga``;
- the intro tools (``intro_tools``) → the intro-flow events of ``shared.domain.events`` (the
  Account Manager and the Intro agent; ``shared.routing``).
"""

from __future__ import annotations

import re
from typing import Any

from shared.adapters.llm import ToolSpec
from shared.agents.concierge import intro_tools
from shared.agents.concierge.decision import (
    CancelRequestArgs,
    CommunityRequestArgs,
    CommunityResponseArgs,
    ConnectionRequestArgs,
    FollowUpAnswerArgs,
    GoalArgs,
    IntroOfferArgs,
    IntroOpportunityArgs,
    IntroOutcomeArgs,
    OfferIntroArgs,
    ResearchArgs,
)
from shared.agents.concierge.state import ConciergeTurn, ConciergeTurnState
from shared.agents.conversation.protocol import AgentTool
from shared.domain.events import (
    CommunityRequestNeeded,
    Event,
    SolutionResearchCancelled,
    SolutionResearchNeeded,
)
from shared.domain.member_intents import reads_as_instructions

_LIKE_ESCAPE = re.compile(r"([\\%_])")


def _agent(turn: ConciergeTurn) -> str:
    return turn.state.agent


def _emit(turn: ConciergeTurn, event: Event) -> None:
    """Into the turn's outbox: written when the turn commits, with its reply (never on its own)."""
    if turn.uow is None:
        raise RuntimeError("this turn has no unit of work to publish through")
    turn.uow.emit(event)


def publish_community_request(turn: ConciergeTurn, args: CommunityRequestArgs) -> dict[str, Any]:
    request = CommunityRequestNeeded(
        requesting_agent_type=_agent(turn),
        requesting_user_id=turn.user_id,
        context_id=turn.ctx.conversation_id,
        context_type="conversation",
        question=args.question,
        category=args.category,
        expertise_needed=tuple(e.strip() for e in args.expertise_needed if e.strip()),
        requester_context=args.requester_context,
        desired_outcome=args.desired_outcome,
        urgency=args.urgency,
        request_summary=args.request_summary,
    )
    _emit(turn, request.event())
    return {
        "community_request": "submitted",
        "question": args.question,
        "request_summary": args.request_summary,
    }


def request_solution_research(turn: ConciergeTurn, args: ResearchArgs) -> dict[str, Any]:
    research = SolutionResearchNeeded(
        requesting_agent_type=_agent(turn),
        user_id=turn.user_id,
        conversation_id=turn.ctx.conversation_id,
        request_description=args.request_description,
        category=args.category,
        urgency=args.urgency,
    )
    _emit(turn, research.event())
    return {"research": "requested", "about": args.request_description}


def store_user_goal(turn: ConciergeTurn, args: GoalArgs) -> dict[str, Any]:
    """The member's goal, in their words; text aimed at the agent (prompt injection) is refused with
    a tool error, whoever asked for it, so a fooled model cannot store it either."""
    if reads_as_instructions(args.goal_description):
        raise ValueError("that reads as instructions to the agent, not as what the member is working on")
    if not turn.uow.users.store_goal(turn.user_id, args.goal_description, args.goal_type):
        raise RuntimeError("no such member")
    turn.state.goal_stored = args.goal_description
    return {"goal": "stored", "goal_description": args.goal_description}


def cancel_community_request(turn: ConciergeTurn, args: CancelRequestArgs) -> dict[str, Any]:
    """agents.md §4.3.9: the member's own request, by id or topic; someone else's id is refused. The
    cancelling is the Community service's (``community.cancel_request``): the request is cancelled when
    no other member waits on it, else the member is withdrawn from it."""
    if args.request_id is None and not args.about:
        raise ValueError("give request_id or what the request was about")
    community = turn.state.community
    if community is None:
        raise RuntimeError("cancelling requests is not available in this turn")
    pattern = "%" + _LIKE_ESCAPE.sub(r"\\\1", args.about or "") + "%"
    mine = turn.uow.community_requests.own_open(turn.user_id, request_id=args.request_id, pattern=pattern)
    if args.request_id is not None and not mine:
        raise LookupError("no open request of this member has that id")
    outcomes = [community.cancel(turn.uow, request_id=r.id, user_id=turn.user_id, now=turn.now) for r in mine]
    if mine:
        turn.uow.priorities.cancel_for_items("community_request", [r.id for r in mine])
    if args.about or mine:  # research on that topic or request is no longer needed (the Solution Saga's)
        cancelled = SolutionResearchCancelled(
            _agent(turn), turn.user_id, about=args.about, community_request_ids=tuple(r.id for r in mine)
        )
        _emit(turn, cancelled.event())
    return {
        "cancelled": len(mine),
        "requests": [r.described[:120] for r in mine],
        "outcomes": outcomes,
        "about": args.about,
    }


def record_follow_up_answer(turn: ConciergeTurn, args: FollowUpAnswerArgs) -> dict[str, Any]:
    """The member's answer to a follow-up question the Solution Saga asked them as an expert
    (``solution_saga.record_follow_up_answer``): refused unless that workflow's question was asked of
    (and sent to) this member and is still open; a repeat with the same answer records nothing."""
    saga = turn.state.saga
    if saga is None:
        raise RuntimeError("recording follow-up answers is not available in this turn")
    result = saga.record_follow_up_answer(
        turn.uow,
        workflow_id=args.workflow_id,
        expert_user_id=turn.user_id,
        answer=args.answer_text,
        now=turn.now,
    )
    return {"follow_up_answer": str(result.get("status")), "workflow_id": str(args.workflow_id)}


def concierge_tools() -> dict[str, AgentTool[ConciergeTurnState]]:
    tools: list[AgentTool[ConciergeTurnState]] = [
        AgentTool(
            ToolSpec(
                "publish_community_request",
                "Ask the network a question for the member (experts answer). Use for 'do you know anyone "
                "at X', 'I want to meet X', and alongside research for vendor questions.",
                CommunityRequestArgs,
            ),
            publish_community_request,
        ),
        AgentTool(
            ToolSpec(
                "request_solution_research",
                "Start research on vendors or tools for the member's need.",
                ResearchArgs,
            ),
            request_solution_research,
        ),
        AgentTool(
            ToolSpec("store_user_goal", "Store what the member is working on (their goal).", GoalArgs),
            store_user_goal,
        ),
        AgentTool(
            ToolSpec(
                "cancel_community_request",
                "Cancel one of the member's own open community requests they no longer need.",
                CancelRequestArgs,
            ),
            cancel_community_request,
        ),
        AgentTool(
            ToolSpec(
                "offer_introduction",
                "The member offers to introduce someone THEY know ('I can intro you to X', 'let me connect "
                "you with Y'), optionally in answer to a community request or connection request of theirs "
                "(context_type + context_id). Never for 'I want to meet X'.",
                OfferIntroArgs,
            ),
            intro_tools.offer_introduction,
        ),
        AgentTool(
            ToolSpec(
                "accept_intro_opportunity",
                "The member agrees to introduce the prospect of an intro opportunity presented to them.",
                IntroOpportunityArgs,
            ),
            intro_tools.accept_intro_opportunity,
        ),
        AgentTool(
            ToolSpec(
                "decline_intro_opportunity",
                "The member won't introduce the prospect of an intro opportunity presented to them.",
                IntroOpportunityArgs,
            ),
            intro_tools.decline_intro_opportunity,
        ),
        AgentTool(
            ToolSpec(
                "accept_connection_request",
                "The member wants to meet the person of a connection request presented to them.",
                ConnectionRequestArgs,
            ),
            intro_tools.accept_connection_request,
        ),
        AgentTool(
            ToolSpec(
                "decline_connection_request",
                "The member does not want to meet the person of a connection request presented to them.",
                ConnectionRequestArgs,
            ),
            intro_tools.decline_connection_request,
        ),
        AgentTool(
            ToolSpec(
                "accept_intro_offer",
                "The member (introducee) accepts an intro another member offered them.",
                IntroOfferArgs,
            ),
            intro_tools.accept_intro_offer,
        ),
        AgentTool(
            ToolSpec(
                "decline_intro_offer",
                "The member declines an intro offer: as introducee, or as the connector who can't follow "
                "through.",
                IntroOfferArgs,
            ),
            intro_tools.decline_intro_offer,
        ),
        AgentTool(
            ToolSpec(
                "confirm_intro_offer",
                "The member (the connector who offered) confirms the intro they offered, after the other "
                "side accepted.",
                IntroOfferArgs,
            ),
            intro_tools.confirm_intro_offer,
        ),
        AgentTool(
            ToolSpec(
                "record_intro_outcome",
                "The member answers the check-in on an introduction that was made: did they meet (met) "
                "or not (with the reason, if they gave one).",
                IntroOutcomeArgs,
            ),
            intro_tools.record_intro_outcome,
        ),
        AgentTool(
            ToolSpec(
                "record_community_response",
                "Record the member's answer to a community request that was presented to them as an expert.",
                CommunityResponseArgs,
            ),
            intro_tools.record_community_response,
        ),
        AgentTool(
            ToolSpec(
                "record_follow_up_answer",
                "Record the member's answer to the research follow-up question asked of them as an expert "
                "(the OPEN FOLLOW-UP QUESTION in the turn context), with its workflow_id and their words.",
                FollowUpAnswerArgs,
            ),
            record_follow_up_answer,
        ),
    ]
    return {t.spec.name: t for t in tools}
