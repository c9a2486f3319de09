"""The Concierge plugged into the shared turn framework (``shared.agents.conversation``; agents.md §4).

Call 1 (``make_decision``, forced) reads the member's unanswered texts with their times, the
open priorities, their own open community requests and their goal; code checks the decision
(clarification runs no tools; an item the member is "responding to" or a proactive mention must
be one of their open items, and a proactive mention must pass the deterministic conditions of
§4.4), then runs the tools. Call 2 writes the reply from the tool results. With no LLM, the
offline brain (``fallback.py``) does the same from deterministic intent rules.

Activation (issue 16 §3): approval queues a welcome that asks what the member is working on
(``WELCOME_QUESTION``); their answer is stored as their goal, in both paths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pydantic

from shared import registry
from shared.adapters.repositories import Priority
from shared.agents.concierge import fallback as brain
from shared.agents.concierge.decision import (
    MAKE_DECISION,
    ConciergeDecision,
    ContextForCall2,
)
from shared.agents.concierge.intro_port import IntroPort
from shared.agents.concierge.prompts import (
    DECISION_SYSTEM,
    PROMPT_VERSION,
    QUOTABLE,
    REPLY_SYSTEM,
    WELCOME_QUESTION,
)
from shared.agents.concierge.state import (
    CommunityPort,
    ConciergeTurn,
    ConciergeTurnState,
    MemberContext,
    SagaPort,
)
from shared.agents.concierge.tools import concierge_tools
from shared.agents.context import profile_block
from shared.agents.conversation.protocol import AgentTool, ProactiveDelivery, ToolRunnerPort, TurnResult
from shared.agents.presentation import How, present_priority
from shared.agents.solution_saga.grounding import stored_sources
from shared.domain.constants import (
    CONCIERGE_HISTORY_STEP,
    CONCIERGE_HISTORY_USER_MESSAGE,
    CONCIERGE_OPEN_REQUESTS_IN_CONTEXT,
    CONCIERGE_PRIORITIES_IN_CONTEXT,
    CONCIERGE_TEXT_MAX_CHARS,
    EXPERT_ANSWER_CREDITS_MENTIONED,
    NOT_MET_REASON_MAX,
    SAGA_FOLLOW_UP_ANSWER_WINDOW,
)
from shared.domain.intros import FOLLOWUP_OPENING
from shared.domain.member_intents import looks_like_goal, read_intents, read_yes_no
from shared.domain.priorities import NEWS_ITEM_TYPES
from shared.domain.reply_guards import GuardContext
from shared.logs import get_logger

log = get_logger(__name__)

HISTORY_STEP = CONCIERGE_HISTORY_STEP
T = TypeVar("T")
PROACTIVE_MIN_VALUE = 70  # agents.md §4.4: value_score > 70
PROACTIVE_MIN_GAP = timedelta(days=3)  # agents.md §4.4: last presented more than 3 days ago


class ConciergeAgent:
    name = "concierge"
    decision_tool = MAKE_DECISION
    decision_prompt = DECISION_SYSTEM
    reply_prompt = REPLY_SYSTEM
    quotable: tuple[str, ...] = QUOTABLE
    prompt_version = PROMPT_VERSION
    commerce_intents = False  # the offline rules read upload and credit asks (the Innovator's tools)
    reads_reactions = True  # 👍 on "Want me to introduce you?" is a yes (reactions.py)

    def __init__(
        self,
        community: CommunityPort | None = None,
        intros: IntroPort | None = None,
        saga: SagaPort | None = None,
    ) -> None:
        self.tools: Mapping[str, AgentTool[ConciergeTurnState]] = self.tool_set()
        self.community = community  # the Community service's use cases, from the service layer
        self.intros = intros  # the intro services (issue 12), from the service layer
        self.saga = saga  # the Solution Saga's follow-up answer use case, from the service layer

    def tool_set(self) -> Mapping[str, AgentTool[ConciergeTurnState]]:
        """The tools this point of contact offers (the Innovator adds its own)."""
        return concierge_tools()

    # --- what kind of turn ---------------------------------------------------------------------

    def history_limit(self, turn: ConciergeTurn) -> int:
        """At least the last ``CONCIERGE_HISTORY_USER_MESSAGE`` messages; the window's first message
        moves in steps (``window_length``), so the cached conversation prefix survives most turns."""
        roles = [registry.USER_ROLE, *registry.poc_agent_keys()]
        total = turn.uow.messages.history_count(turn.inbound[-1].conversation_id, roles=roles)
        return window_length(total, CONCIERGE_HISTORY_USER_MESSAGE, HISTORY_STEP)

    def new_state(self) -> ConciergeTurnState:
        return ConciergeTurnState(
            agent=self.name, community=self.community, intros=self.intros, saga=self.saga
        )

    def call_kind(self, turn: ConciergeTurn) -> str:
        return "decision" if turn.user_texts else "system_decision"

    # --- state ------------------------------------------------------------------------------------

    def member(self, turn: ConciergeTurn) -> MemberContext:
        """Goal, open priorities, own open requests and an open research follow-up question asked of
        them, loaded once per turn (agents.md §4.2)."""
        if turn.state.member is None:
            goal = turn.uow.users.goal(turn.user_id)
            follow_ups = turn.uow.solution_workflows.open_follow_ups(
                turn.user_id, since=turn.now - SAGA_FOLLOW_UP_ANSWER_WINDOW
            )
            turn.state.member = MemberContext(
                goal=goal.goal if goal else None,
                goal_type=goal.goal_type if goal else None,
                priorities=turn.uow.priorities.open_for_user(
                    turn.user_id, limit=CONCIERGE_PRIORITIES_IN_CONTEXT
                ),
                requests=turn.uow.community_requests.open_for_user(
                    turn.user_id, limit=CONCIERGE_OPEN_REQUESTS_IN_CONTEXT
                ),
                follow_up=follow_ups[0] if follow_ups else None,
            )
        return turn.state.member

    def answering_welcome(self, turn: ConciergeTurn) -> bool:
        """The member has no goal yet and the agent's last message asked what they are working on."""
        if not turn.user_texts or self.member(turn).goal:
            return False
        # The agent's last send, whole: the welcome's parts share one created_at, so their order
        # within it is arbitrary; the question may be any part of that run.
        last_send: list[str] = []
        for message in reversed(turn.ctx.history):
            if message.api_role == "assistant":
                last_send.append(message.content)
            elif last_send:
                break
        return any(WELCOME_QUESTION in content for content in last_send)

    def goal_text(self, turn: ConciergeTurn) -> str | None:
        """The member's answer to the welcome question, when it reads as a goal (a statement, not a
        question to us or a request to find someone or cancel something)."""
        if not self.answering_welcome(turn):
            return None
        text = " ".join(turn.user_texts)
        return text if looks_like_goal(text) else None

    # --- Call 1 ----------------------------------------------------------------------------------

    def stable_context(self, turn: ConciergeTurn) -> str:
        """The member block, cached after the static prompt (docs/llm.md, "Prompt caching"): what
        changes in days, not per text. Call 1 (no decision yet) also gets the open items and the
        member's own open requests, which only the decision step needs."""
        member = self.member(turn)
        lines = [profile_block(turn.ctx), f"- Goal: {member.goal or '(not stated yet)'}"]
        if turn.decision is None:
            lines.append(self.open_items(turn))
        return "\n".join(lines)

    def open_items(self, turn: ConciergeTurn) -> str:
        """The open priorities and the member's own open community requests (agents.md §4.2); they
        change when the Account Manager reranks or an item is presented, not with every text."""
        member = self.member(turn)
        today = turn.now
        parts = ["OPEN ITEMS (priorities; item_type, item_id, value, last presented, summary):"]
        parts += [_describe_priority(p) for p in member.priorities] or ["- none"]
        parts.append("THE MEMBER'S OWN OPEN COMMUNITY REQUESTS (id, age, question):")
        parts += [f"- {r.id} ({_age(today, r.created_at)} old) {r.described}" for r in member.requests] or [
            "- none"
        ]
        return "\n".join(parts)

    def decision_guidance(self, turn: ConciergeTurn) -> str:
        """The per-turn block: after the cached history, never cached."""
        member = self.member(turn)
        parts = [
            "TURN CONTEXT (written by Yachtparty's system, not by the member)",
            "NEW MESSAGES (oldest first, with times):",
        ]
        parts += [f"- [{m.created_at:%Y-%m-%d %H:%M:%S} UTC] {m.role}: {m.content}" for m in turn.inbound]
        parts.append(
            f"CREDIT BALANCE (say it only when the member asks): {turn.ctx.user.credit_balance} credits"
        )
        last = member.last_presented
        if last is not None:
            parts.append(
                "LAST PRESENTED ITEM (what a bare yes or no answers): "
                + _describe_priority(last).removeprefix("- ")
            )
        asked = member.last_presented_request
        if asked is not None:
            parts.append(
                f"LAST PRESENTED COMMUNITY REQUEST (asked of the member as an expert, about "
                f"{EXPERT_ANSWER_CREDITS_MENTIONED} credits): {asked.item_id}: "
                f"{asked.item_summary or asked.item_primary_name or ''}. If the new messages answer it (an "
                "answer, 'pass', or 'ask <name>'), set answers_presented_request=true; if they only offer to "
                "introduce someone who could help, use offer_introduction with this request as its context."
            )
        follow_up = member.follow_up
        if follow_up is not None:
            latest = "the last thing asked of them" if member.last_presented_follow_up else "asked earlier"
            parts.append(
                f"OPEN FOLLOW-UP QUESTION ({latest}; asked of the member as an expert who answered a "
                f'research request about "{follow_up.request_description}"): workflow_id '
                f"{follow_up.workflow_id}: {follow_up.question} If the new messages answer it, call "
                "record_follow_up_answer with this workflow_id and the member's own words as answer_text."
            )
        if self.answering_welcome(turn):
            parts.append(
                "THE MEMBER IS ANSWERING THE WELCOME QUESTION (what they are working on): if it states a "
                "goal, store it with store_user_goal; act on any concrete ask in it."
            )
        return "\n".join(parts)

    def safe_decision(self, turn: ConciergeTurn) -> pydantic.BaseModel:
        """agents.md §0.9: no tools, a general response."""
        turn.state.invalid_decision = True
        return ConciergeDecision(
            next_scenario="general_response",
            context_for_call_2=ContextForCall2(
                primary_topic="processing your request",
                primary_response_guidance="having trouble understanding that right now",
            ),
        )

    def actions(self, turn: ConciergeTurn, decision: pydantic.BaseModel) -> list[tuple[str, Any]]:
        assert isinstance(decision, ConciergeDecision)
        decision = self._checked(turn, decision)
        turn.decision = decision
        if decision.next_scenario == "request_clarification":
            calls: list[tuple[str, Any]] = []  # §4.4 step 3: clarification runs no tools
        else:
            calls = [(t.tool_name, t.params) for t in decision.tools_to_execute]
        asked = self.member(turn).last_presented_request
        if (
            decision.answers_presented_request
            and asked is not None
            and decision.next_scenario != "request_clarification"
            and not any(name == "record_community_response" for name, _ in calls)
        ):
            # §4.6: the answer is recorded against the request presented last, by code, with the
            # member's own words (the model only classified it).
            text = " ".join(turn.user_texts)[:CONCIERGE_TEXT_MAX_CHARS]
            calls.append(
                ("record_community_response", {"request_id": str(asked.item_id), "response_text": text})
            )
        goal = self.goal_text(turn)
        if goal and not any(name == "store_user_goal" for name, _ in calls):
            calls.insert(0, ("store_user_goal", {"goal_description": goal[:CONCIERGE_TEXT_MAX_CHARS]}))
        return calls

    def _checked(self, turn: ConciergeTurn, decision: ConciergeDecision) -> ConciergeDecision:
        """Drop item references that are not this member's open items, and proactive mentions that
        fail the deterministic conditions of §4.4."""
        items = {(p.item_type, str(p.item_id)): p for p in self.member(turn).priorities}
        update: dict[str, Any] = {}
        responding = decision.user_responding_to
        if responding is not None and (responding.item_type, str(responding.item_id)) not in items:
            log.warning(
                "decision named an item that is not the member's; ignored",
                extra={"user_id": str(turn.user_id)},
            )
            update["user_responding_to"] = None
            responding = None
        proactive = decision.proactive_priority
        if proactive is not None:
            item = items.get((proactive.item_type, str(proactive.item_id)))
            now = turn.now
            same = responding is not None and str(responding.item_id) == str(proactive.item_id)
            if item is None or same or not proactive.should_mention or not may_mention(item, now):
                update["proactive_priority"] = None
                if decision.next_scenario == "response_with_proactive_priority":
                    update["next_scenario"] = "single_topic_response"
        if decision.answers_presented_request and (
            not turn.user_texts or self.member(turn).last_presented_request is None
        ):
            update["answers_presented_request"] = False  # nothing was presented that it could answer
        return decision.model_copy(update=update) if update else decision

    # --- Call 2 -----------------------------------------------------------------------------------

    def reply_guidance(self, turn: ConciergeTurn) -> str:
        decision = turn.decision
        assert isinstance(decision, ConciergeDecision)
        scenario = decision.next_scenario
        facts: dict[str, Any] = {"scenario": scenario}
        first_name = turn.ctx.user.first_name
        if first_name:
            facts["member_first_name"] = first_name
        done = []
        for result in turn.tool_results:
            if result.ok:
                # how to acknowledge each action is in the cached reply prompt (ACKNOWLEDGMENTS)
                done.append({"action": result.name, "result": result.output})
            else:
                facts["tool_errors"] = "having trouble with part of that; say you'll look into it, no detail"
        facts["done"] = done
        facts["credit_balance_if_asked"] = turn.ctx.user.credit_balance
        if not done:
            facts["nothing_was_done"] = "claim no action, result, request or research"
        member = self.member(turn)
        items = {str(p.item_id): p for p in member.priorities}
        if decision.user_responding_to is not None:
            item = items.get(str(decision.user_responding_to.item_id))
            if item is not None:
                facts["responding_to"] = item.item_summary
        if decision.proactive_priority is not None:
            facts["proactive_item"] = {
                "summary": decision.proactive_priority.summary,
                "transition": decision.proactive_priority.transition_phrase,
            }
        if decision.clarification_needed is not None:
            facts["clarify"] = decision.clarification_needed.model_dump(mode="json")
        if decision.post_clarification_context is not None:
            facts["post_clarification"] = decision.post_clarification_context.model_dump(mode="json")
        call2 = decision.context_for_call_2
        lines = [
            "TURN CONTEXT (written by Yachtparty's system, not by the member)",
            # the guidance of each scenario is in the cached reply prompt (SCENARIO GUIDANCE)
            f"SCENARIO: {scenario}",
            "FACTS: " + json.dumps(facts, sort_keys=True, default=str),
            f"TONE: {call2.tone}; STRUCTURE: {call2.message_structure}",
        ]
        if call2.primary_response_guidance:
            lines.append(f"NOTE FROM THE DECISION STEP: {call2.primary_response_guidance}")
        return "\n".join(lines)

    def wants_reply(self, turn: ConciergeTurn) -> bool:
        decision = turn.decision
        assert isinstance(decision, ConciergeDecision)
        return bool(turn.user_texts) or decision.next_scenario != "no_message"

    # --- no LLM -------------------------------------------------------------------------------------

    def fallback(self, turn: ConciergeTurn, tools: ToolRunnerPort) -> list[str]:
        if not turn.user_texts:
            turn.decision = ConciergeDecision(next_scenario="no_message")
            return []  # a system trigger alone: nothing the rules can say
        intents = [
            i
            for i in read_intents(turn.user_texts, innovator=self.commerce_intents)
            if i.kind.value != "other"
        ]
        presented = self._presented(turn)
        calls = self._intro_outcome(turn) or brain.plan(
            intents, goal_text=self.goal_text(turn), texts=turn.user_texts, presented=presented
        )
        turn.decision = ConciergeDecision.model_validate(
            {
                "next_scenario": "single_topic_response" if calls else "general_response",
                "tools_to_execute": [{"tool_name": n, "params": p} for n, p in calls[:4]],
            }
        )
        for name, args in calls:
            tools.run(name, args)
        parts = brain.render(
            turn.tool_results,
            intents,
            texts=turn.user_texts,
            balance=turn.ctx.user.credit_balance,
            open_requests=[
                brain.OpenRequest(r.described, r.status == "responses_received", r.experts_asked)
                for r in self.member(turn).requests
            ],
            innovator=self.commerce_intents,
            presented=presented,
        )
        return self._with_mention(turn, calls, parts)

    def _with_mention(
        self, turn: ConciergeTurn, calls: list[tuple[str, dict[str, Any]]], parts: list[str]
    ) -> list[str]:
        """agents.md §4.3's proactive priority without a model: when the member's texts asked for
        nothing (a greeting, their goal, something the rules do not read), their best open intro
        item (value above 70, not presented in the last 3 days) is mentioned and marked presented,
        so their yes or no answers it. Otherwise a member with no model would only ever hear of
        someone wanting to meet them from a re-engagement, and one scoring 80 or less starts none.
        News for them (an answer to their question, an impact note) is mentioned even after the
        rules acted: a member who texts is skipped by re-engagement ("user has responded"), so
        with no model their turn is the only way it reaches them."""
        if not parts:
            return parts
        acted = any(name != "store_user_goal" for name, _ in calls)
        kinds = NEWS_ITEM_TYPES if acted else brain.MENTIONED_ITEM_TYPES
        for item in self.member(turn).priorities:
            if item.item_type not in kinds or not may_mention(item, turn.now):
                continue
            line = brain.mention(
                item.item_type,
                item.item_summary,
                item.item_primary_name,
                item.item_secondary_name,
                item.item_context,
            )
            if line is None:
                continue
            mark_presented(turn, item.item_type, str(item.item_id), how="natural")
            return [*parts[:-1], f"{parts[-1]} {line}"]
        return parts

    def _intro_outcome(self, turn: ConciergeTurn) -> list[tuple[str, dict[str, Any]]]:
        """A yes or no right after the +7-day "did you two meet?" (issue 12 §2) answers that check-in."""
        outbound = [m for m in turn.ctx.history if m.direction == "outbound"]
        if not outbound or not outbound[-1].content.startswith(FOLLOWUP_OPENING):
            return []
        said = " ".join(" ".join(turn.user_texts).split())
        met = read_yes_no(said)
        if met is None:
            return []
        if met or not said:
            return [("record_intro_outcome", {"met": met})]
        return [("record_intro_outcome", {"met": False, "reason": said[:NOT_MET_REASON_MAX]})]

    def _presented(self, turn: ConciergeTurn) -> brain.Presented | None:
        """The item presented last, for the offline rules; an intro offer's role read from its row; a
        research follow-up question asked of the member when it went out after every item presented."""
        member = self.member(turn)
        follow_up = member.last_presented_follow_up
        if follow_up is not None:
            return brain.Presented(
                item_type=brain.FOLLOW_UP_QUESTION,
                item_id=str(follow_up.workflow_id),
                summary=follow_up.question,
            )
        last = member.last_presented
        if last is None:
            return None
        role = None
        if last.item_type == "intro_offer":
            owned = turn.uow.intro_offers.offer_of(turn.user_id, last.item_id)
            role = owned.role if owned is not None else None
        return brain.Presented(
            item_type=last.item_type,
            item_id=str(last.item_id),
            summary=" ".join(
                filter(None, [last.item_summary, last.item_primary_name, last.item_secondary_name])
            ),
            offer_role=role,
        )

    def safe_template(self, turn: ConciergeTurn) -> list[str]:
        """When the guards refuse the model's reply twice: what the tools did, in fixed words."""
        return brain.render(turn.tool_results, [])

    def finish_reply(self, turn: ConciergeTurn, parts: list[str]) -> list[str]:
        return parts

    def guard_context(self, turn: ConciergeTurn) -> GuardContext:
        history = "\n".join(m.content for m in turn.ctx.history)
        return GuardContext(
            tool_names=frozenset({*self.tools, self.decision_tool.name}),
            system_prompt=self.reply_prompt,
            quotable=self.quotable,
            context_text="\n".join(
                [
                    self.stable_context(turn),
                    self.open_items(turn),
                    self.decision_guidance(turn),
                    history,
                    json.dumps([r.output for r in turn.tool_results], default=str),
                    # what the member's research found: the only vendors / URLs it may name (issue 11)
                    stored_sources(turn.uow.solution_workflows, turn.user_id, now=turn.now).context_text()
                    if turn.uow is not None
                    else "",
                ]
            ),
            member_checks=True,
            acted=frozenset(r.name for r in turn.tool_results if r.ok),
            own_contacts=frozenset(str(v) for v in (turn.ctx.user.phone_number, turn.ctx.user.email) if v),
        )

    def proactive(self, turn: ConciergeTurn) -> ProactiveDelivery:
        """A turn started only by a system trigger queues its message: quiet hours and budgets apply."""
        return ProactiveDelivery(
            priority="medium", can_delay=False, requires_fresh_context=True, kind=self.name
        )

    def after_turn(self, turn: ConciergeTurn, result: TurnResult) -> None:
        """§4.7: a proactive item the model's reply mentioned counts as presented ('natural')."""
        decision = turn.decision
        if not result.bodies or result.path != "llm":
            return  # the template never mentions one; the offline reply marks its own (_with_mention)
        if not isinstance(decision, ConciergeDecision) or decision.proactive_priority is None:
            return
        item = decision.proactive_priority
        mark_presented(turn, item.item_type, str(item.item_id), how="natural")


def may_mention(item: Priority, now: datetime) -> bool:
    """agents.md §4.4's deterministic conditions on a proactive mention, for the model's choice and
    the offline one alike: value above 70, not presented in the last 3 days."""
    if (item.value_score or 0) <= PROACTIVE_MIN_VALUE:
        return False
    return item.last_presented_at is None or now - item.last_presented_at > PROACTIVE_MIN_GAP


def window_length(total: int, limit: int, step: int) -> int:
    """How many of a conversation's ``total`` messages the history shows: all up to ``limit``, then
    between ``limit`` and ``limit + step - 1``, the first one moving only every ``step`` messages. A
    window that slid by one every turn would change the start of the cached prefix every turn."""
    if total <= limit:
        return total
    return total - ((total - limit) // step) * step


def window(history: Sequence[T], limit: int, step: int) -> list[T]:
    """The last ``window_length`` items of a whole history (oldest first)."""
    return list(history[len(history) - window_length(len(history), limit, step) :])


def _age(now: datetime, then: datetime) -> str:
    days = (now - then).days
    return f"{days} days" if days else "under a day"


def _describe_priority(p: Priority) -> str:
    presented = f"{p.last_presented_at:%Y-%m-%d}" if p.last_presented_at else "never"
    summary = p.item_summary or p.item_primary_name or ""
    return f"- {p.item_type} {p.item_id} value={p.value_score} presented={presented}: {summary}"


def mark_presented(turn: ConciergeTurn, item_type: str, item_id: str, *, how: How) -> str | None:
    """markPriorityPresented (agents.md §13) on the member's own priority row; its new status.
    A second presentation makes it dormant and cancels its pending re-engagement checks."""
    presented = present_priority(
        turn.uow,
        agent=turn.state.agent,
        user_id=turn.user_id,
        item_type=item_type,
        item_id=item_id,
        how=how,
        now=turn.now,
        context_id=turn.ctx.conversation_id,
        context_type="conversation",
    )
    return None if presented is None else presented.status
