"""The Bouncer plugged into the conversational template (``shared.agents.conversation``).

Call 1 (``make_decision``, forced) reads the user's unanswered messages; code maps the decision
to the Bouncer's tools (``tools.py``) and runs them; Call 2 writes the reply in the gatekeeper
voice. With no LLM, the fallback brain (``fallback.py``) does the same deterministically.
After the turn, follow-ups are (re)scheduled per decisions B4. A follow-up turn (a
``re_engagement_check`` trigger, no user text) is proactive: the framework queues its message
for the orchestrator (quiet hours, budgets), and a user reply supersedes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

import pydantic

from shared.adapters.email_parsing import verification_address
from shared.adapters.tasks import create_task
from shared.agents.bouncer import fallback as brain
from shared.agents.bouncer.decision import MAKE_DECISION, BouncerDecision, UserInfo
from shared.agents.bouncer.prompts import (
    DECISION_SYSTEM,
    PRIVACY_LINE,
    PROMPT_VERSION,
    REENGAGEMENT_GUIDANCE,
    REPLY_SYSTEM,
    SCENARIO_GUIDANCE,
    WHAT_IS_THIS_BLURB,
)
from shared.agents.bouncer.state import BouncerTurn, BouncerTurnState, Candidate, onboarding_state
from shared.agents.bouncer.tools import (
    AGENT,
    FOLLOWUP_KIND,
    FOLLOWUP_TASK,
    build_tools,
    cancel_followups,
    log_action,
    referral_candidates,
)
from shared.agents.context import profile_block
from shared.agents.conversation.protocol import ProactiveDelivery, ToolRunnerPort, TurnResult
from shared.domain.constants import BOUNCER_HISTORY_RE_ENGAGEMENT, BOUNCER_HISTORY_USER_MESSAGE
from shared.domain.member_intents import asks_for_a_person
from shared.domain.onboarding import (
    BETWEEN_ROLES,
    Extraction,
    OnboardingState,
    Step,
    extract,
    follow_up_after,
    needs_follow_up,
    next_step,
)
from shared.domain.onboarding import apply as apply_extraction
from shared.domain.reply_guards import GuardContext
from shared.logs import get_logger

log = get_logger(__name__)

RE_ENGAGEMENT_TYPE = "re_engagement_check"
EMAIL_VERIFIED_TYPE = "email_verified_acknowledgment"


def trigger_payload(content: str) -> dict[str, Any]:
    try:
        parsed = json.loads(content)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


__all__ = ["BouncerAgent", "onboarding_state"]


def followup_dedupe_key(user_id: Any, cycle: Any, attempt: int) -> str:
    """One follow-up per attempt per cycle. A cycle starts at the user turn that scheduled
    attempt 1, so a reply answered while the previous cycle's task is still processing starts a
    new cycle instead of colliding with the running task's key."""
    return f"bouncer_followup:{user_id}:{cycle}:{attempt}"


class BouncerAgent:
    name = AGENT
    decision_tool = MAKE_DECISION
    decision_prompt = DECISION_SYSTEM
    reply_prompt = REPLY_SYSTEM
    quotable = (WHAT_IS_THIS_BLURB, PRIVACY_LINE)
    prompt_version = PROMPT_VERSION
    reads_reactions = False  # its questions ask for names and places: a reaction answers none

    def __init__(self, *, verify_domain: str | None) -> None:
        self.verify_domain = verify_domain
        self.tools = build_tools(verify_domain)

    def new_state(self) -> BouncerTurnState:
        return BouncerTurnState()

    # --- what kind of turn ---------------------------------------------------------------------

    def trigger(self, turn: BouncerTurn) -> str:
        if turn.user_texts:
            return "user_message"
        for message in turn.system_triggers:
            kind = trigger_payload(message.content).get("type")
            if kind == RE_ENGAGEMENT_TYPE:
                return "re_engagement"
            if kind == EMAIL_VERIFIED_TYPE:
                return "email_verified"
        return "user_message"

    def attempt(self, turn: BouncerTurn) -> int:
        for message in turn.system_triggers:
            payload = trigger_payload(message.content)
            if payload.get("type") == RE_ENGAGEMENT_TYPE:
                return int(payload.get("attemptCount") or 1)
        return 0

    def history_limit(self, turn: BouncerTurn) -> int:
        if self.trigger(turn) == "user_message":
            return BOUNCER_HISTORY_USER_MESSAGE
        return BOUNCER_HISTORY_RE_ENGAGEMENT

    def call_kind(self, turn: BouncerTurn) -> str:
        return "reengagement_decision" if self.trigger(turn) == "re_engagement" else "decision"

    # --- state ----------------------------------------------------------------------------------

    def state(self, turn: BouncerTurn, *, fresh: bool = False) -> OnboardingState:
        """The user's onboarding state; ``fresh``: as of now, read again only if this turn has
        written the user's row since the state was read (a tool saved a field, say)."""
        writes = turn.uow.users.writes
        stale = fresh and turn.state.onboarding_writes != writes
        if stale or turn.state.onboarding is None:
            user = turn.uow.users.get(turn.user_id) if stale else turn.ctx.user
            assert user is not None
            turn.state.onboarding = onboarding_state(user, declined=turn.state.closed)
            turn.state.onboarding_writes = writes if stale else 0
        elif fresh and turn.state.onboarding.declined != turn.state.closed:
            turn.state.onboarding = replace(turn.state.onboarding, declined=turn.state.closed)
        return turn.state.onboarding

    def has_spoken(self, turn: BouncerTurn) -> bool:
        return any(m.role == AGENT for m in turn.ctx.history)

    def expecting(self, turn: BouncerTurn) -> Step | None:
        return next_step(self.state(turn)) if self.has_spoken(turn) else None

    def address(self, turn: BouncerTurn) -> str | None:
        if not self.verify_domain:
            return None
        return verification_address(turn.ctx.user.verification_token, self.verify_domain)

    # --- Call 1 --------------------------------------------------------------------------------------

    def stable_context(self, turn: BouncerTurn) -> str:
        state = self.state(turn)
        lines = [
            profile_block(turn.ctx),
            "",
            "ONBOARDING",
            f"- Referrer recorded: {'yes' if state.referrer_known else 'no'}",
            f"- Missing fields: {', '.join(state.missing_fields()) or 'none'}",
            f"- Verification address already sent: {'yes' if state.verification_requested else 'no'}",
            "- Onboarding complete (awaiting the team's review): "
            + ("yes" if state.onboarding_completed else "no"),
        ]
        return "\n".join(lines)

    def decision_guidance(self, turn: BouncerTurn) -> str:
        trigger = self.trigger(turn)
        state = self.state(turn)
        parts = [f"TRIGGER: {trigger}", f"NEXT STEP BY THE RULES: {next_step(state).value}"]
        expecting = self.expecting(turn)
        parts.append(
            f"THE BOUNCER'S LAST QUESTION WAS ABOUT: {expecting.value}"
            if expecting
            else "THE BOUNCER HAS NOT SAID ANYTHING YET."
        )
        if trigger == "re_engagement":
            parts.append(REENGAGEMENT_GUIDANCE)
            parts.append(f"Follow-up attempt {self.attempt(turn)} of 2.")
        if trigger == "email_verified":
            parts.append("The user's work email was just verified by the email webhook.")
        candidates = self._candidates(turn) if not state.referrer_known else []
        if candidates:
            parts.append(
                "REFERRAL CANDIDATES (verified members; set referrer_candidate_id only for a "
                "plausible match):"
            )
            parts += [f"- {c.describe()}" for c in candidates]
        return "\n".join(parts)

    def _candidates(self, turn: BouncerTurn) -> list[Candidate]:
        if turn.state.candidates is None:
            found: dict[Any, Candidate] = {}
            for text in turn.user_texts:
                extraction = extract(text, Step.ASK_REFERRER)
                query = extraction.referrer_name or (text if len(text.split()) <= 4 else "")
                for candidate in referral_candidates(turn.uow, turn.user_id, query) if query else []:
                    found.setdefault(candidate.id, candidate)
            turn.state.candidates = sorted(found.values(), key=lambda c: -c.score)[:5]
        return turn.state.candidates

    def safe_decision(self, turn: BouncerTurn) -> pydantic.BaseModel:
        """§0.9: an invalid decision runs no tools and asks for the next missing item."""
        turn.state.invalid_decision = True
        return BouncerDecision(next_scenario=brain.STEP_SCENARIO[next_step(self.state(turn))])

    def actions(self, turn: BouncerTurn, decision: pydantic.BaseModel) -> list[tuple[str, Any]]:
        assert isinstance(decision, BouncerDecision)
        if decision.user_not_interested:
            return [("close_invite", {"reason": "not_interested"})]
        out: list[tuple[str, Any]] = []
        state = self.state(turn)
        if decision.user_info is not None:
            info = decision.user_info
            if state.referrer_known:
                info = info.model_copy(update={"referrer_name": None, "referrer_candidate_id": None})
            raw = info.model_dump(mode="json", exclude_none=True)
            if raw:
                out.append(("collect_user_info", raw))
        if decision.nomination is not None:
            out.append(("record_nomination", decision.nomination.model_dump(mode="json", exclude_none=True)))
        after_info = _merge(state, decision.user_info)
        wants_address = decision.send_verification_email or decision.next_scenario in (
            "request_email_verification",
            "awaiting_email_verification",
        )
        # Once: the address handed out, later turns remind (the awaiting step's reply carries it),
        # so a typed address, a question or a decline still gets its own answer.
        if (
            not state.email_verified
            and not state.verification_requested
            and (wants_address or (after_info.info_complete() and after_info.referrer_known))
        ):
            out.append(("send_verification_email", {}))
        if (
            (decision.complete_onboarding or after_info.email_verified)
            and after_info.info_complete()
            and not (state.onboarding_completed)
        ):
            out.append(("complete_onboarding", {}))
        return out

    # --- Call 2 --------------------------------------------------------------------------------------

    def scenario(self, turn: BouncerTurn) -> str:
        decision = turn.decision
        assert isinstance(decision, BouncerDecision)
        done = {r.name for r in turn.tool_results if r.ok}
        if "close_invite" in done:
            return "not_interested"
        if "complete_onboarding" in done:
            return "email_verified_onboarding_complete"
        if "send_verification_email" in done:
            # The state is now "awaiting" (whose guidance is a reminder); this turn is the first ask.
            return "request_email_verification"
        state = self.state(turn, fresh=True)
        step = next_step(state)
        if decision.next_scenario in (
            "explain_yachtparty",
            "decline_request",
            "typed_email",
            "re_engagement",
            "no_message",
            "general_response",
        ):
            return decision.next_scenario
        if self.trigger(turn) == "email_verified":
            return "email_verified_missing_info" if not state.info_complete() else "awaiting_approval"
        return brain.STEP_SCENARIO[step]  # the rules decide which field is next, not the model

    def reply_guidance(self, turn: BouncerTurn) -> str:
        decision = turn.decision
        assert isinstance(decision, BouncerDecision)
        scenario = self.scenario(turn)
        turn.state.scenario = scenario
        state = self.state(turn)
        step = next_step(state)
        facts: dict[str, Any] = {"scenario": scenario, "next_item_to_ask_for": step.value}
        for result in turn.tool_results:
            if result.ok and "verification_address" in result.output:
                facts["verification_address"] = result.output["verification_address"]
            if not result.ok:
                facts["tool_errors"] = "having trouble saving part of that; say you'll look into it"
        if step in (Step.REQUEST_EMAIL_VERIFICATION, Step.AWAIT_EMAIL_VERIFICATION) and self.address(turn):
            facts.setdefault("verification_address", self.address(turn))
        if decision.typed_email_ignored or any(_has_email(t) for t in turn.user_texts):
            facts["typed_email"] = "an address typed in chat is not stored and verifies nothing"
        if state.first_name:
            facts["user_first_name"] = state.first_name
        if not self.has_spoken(turn):
            facts["first_reply"] = True
        lines = [
            f"SCENARIO: {scenario}",
            f"GUIDANCE: {SCENARIO_GUIDANCE.get(scenario, SCENARIO_GUIDANCE['general_response'])}",
            "FACTS: " + json.dumps(facts, sort_keys=True),
        ]
        if decision.reply_guidance:
            lines.append(f"NOTE FROM THE DECISION STEP: {decision.reply_guidance}")
        return "\n".join(lines)

    def wants_reply(self, turn: BouncerTurn) -> bool:
        decision = turn.decision
        assert isinstance(decision, BouncerDecision)
        if self.trigger(turn) == "re_engagement":
            return decision.should_message and self.followup_still_due(turn)
        return decision.next_scenario != "no_message" or bool(turn.user_texts)

    def followup_still_due(self, turn: BouncerTurn) -> bool:
        """Onboarding still needs chasing and the user has not written since the trigger."""
        if not needs_follow_up(self.state(turn, fresh=True)):
            return False
        last_user = turn.uow.messages.last_user_text_at(turn.user_id)
        triggered = min(m.created_at for m in turn.system_triggers)
        return last_user is None or last_user < triggered

    def proactive(self, turn: BouncerTurn) -> ProactiveDelivery:
        """Follow-ups wait out quiet hours and count against the budget; a reply supersedes them.
        The email-verified notice goes out as soon as the orchestrator allows."""
        if self.trigger(turn) == "re_engagement":
            return ProactiveDelivery(
                priority="medium", can_delay=False, requires_fresh_context=True, kind=FOLLOWUP_KIND
            )
        return ProactiveDelivery(
            priority="high",
            can_delay=False,
            requires_fresh_context=False,
            kind=self.trigger(turn),
            superseded_by_reply=False,
        )

    # --- no LLM ------------------------------------------------------------------------------------

    def fallback(self, turn: BouncerTurn, tools: ToolRunnerPort) -> list[str]:
        trigger = self.trigger(turn)
        state = self.state(turn)
        extraction = self._extract_all(turn, state) if trigger == "user_message" else None
        decision = brain.decide(state, extraction, trigger, attempt=self.attempt(turn))
        turn.decision = decision
        if trigger == "re_engagement" and not (decision.should_message and self.followup_still_due(turn)):
            bodies: list[str] = []
        else:
            for name, raw in self.actions(turn, decision):
                tools.run(name, raw)
            bodies = brain.render(self.scenario(turn), self._facts(turn))
        log_action(
            turn.uow,
            turn.user_id,
            "bouncer_fallback",
            {"trigger": trigger, "messages": [str(m.id) for m in turn.inbound]},
            {
                "decision": decision.model_dump(mode="json"),
                "replies": bodies,
                "tools": [{"name": r.name, "ok": r.ok} for r in turn.tool_results],
            },
            context_id=turn.ctx.conversation_id,
        )
        return bodies

    def _extract_all(self, turn: BouncerTurn, state: OnboardingState) -> Extraction:
        """Read rapid-fire texts in order, each in the light of what was still missing."""
        expecting = self.expecting(turn)
        merged: dict[str, str] = {}
        emails: tuple[str, ...] = ()
        referrer: str | None = None
        not_interested = asks = questions = False
        greeting = True
        current = state
        for text in turn.user_texts:
            e = extract(text, expecting)
            for key, value in e.captured().items():
                merged.setdefault(key, value)
            referrer = referrer or e.referrer_name
            emails += e.typed_emails
            not_interested = not_interested or e.not_interested
            asks = asks or e.asks_what_this_is
            questions = questions or e.asks_question
            greeting = greeting and e.greeting_only
            current = apply_extraction(current, e, bool(e.referrer_name) and not current.referrer_known)
            expecting = next_step(current)
        return Extraction(
            first_name=merged.get("first_name"),
            last_name=merged.get("last_name"),
            company=merged.get("company"),
            title=merged.get("title"),
            referrer_name=referrer,
            typed_emails=emails,
            not_interested=not_interested,
            asks_what_this_is=asks,
            greeting_only=greeting,
            asks_question=questions,
            fields=tuple(sorted(merged)),
        )

    def _facts(self, turn: BouncerTurn) -> brain.ReplyFacts:
        state = self.state(turn, fresh=True)
        return brain.ReplyFacts(
            step_after=next_step(state),
            verification_address=self.address(turn),
            first_reply=not self.has_spoken(turn),
            attempt=self.attempt(turn),
            between_roles=state.company == BETWEEN_ROLES,
            asks_for_person=any(asks_for_a_person(t) for t in turn.user_texts),
        )

    def safe_template(self, turn: BouncerTurn) -> list[str]:
        facts = self._facts(turn)
        scenario = brain.STEP_SCENARIO[facts.step_after]
        if self.trigger(turn) == "re_engagement":
            scenario = "re_engagement"
        return brain.render(scenario, facts)

    def finish_reply(self, turn: BouncerTurn, parts: list[str]) -> list[str]:
        """agents.md §2.9: "what is this" gets the canned blurb word for word, whatever the model wrote.

        A reply that already quotes it is kept; otherwise the blurb goes first and any part that
        paraphrases it is dropped, keeping the model's next question.
        """
        if turn.state.scenario != "explain_yachtparty" or not parts:
            return parts
        blurb = _words(WHAT_IS_THIS_BLURB)
        if any(" ".join(blurb) in " ".join(_words(p)) for p in parts):
            return parts
        blurb_words = set(blurb)
        kept = [p for p in parts if not _paraphrases(_words(p), blurb_words)]
        return [WHAT_IS_THIS_BLURB, *kept]

    def guard_context(self, turn: BouncerTurn) -> GuardContext:
        history = "\n".join(m.content for m in turn.ctx.history)
        return GuardContext(
            tool_names=frozenset({*self.tools, self.decision_tool.name}),
            system_prompt=REPLY_SYSTEM,
            quotable=self.quotable,
            context_text="\n".join(
                [
                    self.stable_context(turn),
                    self.decision_guidance(turn),
                    history,
                    json.dumps([r.output for r in turn.tool_results], default=str),
                ]
            ),
            verification_address=self.address(turn),
            verify_domain=self.verify_domain,
        )

    # --- after the reply: follow-ups (decisions B4) ------------------------------------------------

    def after_turn(self, turn: BouncerTurn, result: TurnResult) -> None:
        now = turn.now
        state = self.state(turn, fresh=True)
        trigger = self.trigger(turn)
        conversation_id = turn.ctx.conversation_id
        if turn.state.closed:
            if conversation_id:
                turn.uow.conversations.set_status(conversation_id, "closed")
            return
        if trigger == "re_engagement":
            if not result.bodies:  # the agent chose not to chase (or it is stale): stop here
                return
            self._schedule(turn, self.attempt(turn) + 1, now, cycle=self.cycle(turn))
            return
        # A user message (or the email trigger) resets the count (B4) and starts a new cycle.
        cancel_followups(turn.uow, turn.user_id, reason="user_replied")
        if needs_follow_up(state):
            self._schedule(turn, 1, now, cycle=str(turn.id))

    def cycle(self, turn: BouncerTurn) -> str:
        """The follow-up cycle a re-engagement trigger belongs to (its task's, else the task id)."""
        for message in turn.system_triggers:
            payload = trigger_payload(message.content)
            if payload.get("type") == RE_ENGAGEMENT_TYPE:
                return str(payload.get("cycle") or payload.get("task_id") or turn.id)
        return str(turn.id)

    def _schedule(self, turn: BouncerTurn, attempt: int, now: datetime, *, cycle: str) -> None:
        plan = follow_up_after(now, attempt)
        if plan is None:
            return
        create_task(
            turn.uow,
            task_type=FOLLOWUP_TASK,
            agent_type=AGENT,
            user_id=turn.user_id,
            scheduled_for=plan.due_at,
            priority="medium",
            context_json={
                "attemptCount": attempt,
                "lastInteractionAt": now.isoformat(),
                "missingFields": self.state(turn).missing_fields(),
                "cycle": cycle,
            },
            context_id=turn.ctx.conversation_id,
            context_type="conversation",
            dedupe_key=followup_dedupe_key(turn.user_id, cycle, attempt),
            created_by=AGENT,
        )


def _merge(state: OnboardingState, info: UserInfo | None) -> OnboardingState:
    if info is None:
        return state
    return replace(
        state,
        first_name=state.first_name or info.first_name,
        last_name=state.last_name or info.last_name,
        company=state.company or info.company,
        title=state.title or info.title,
        referrer_known=state.referrer_known or bool(info.referrer_name),
    )


_WORD = re.compile(r"[a-z0-9]+")
_PARAPHRASE_WORDS = 3  # a part using this many of the blurb's distinctive words restates it
_DISTINCTIVE_LEN = 5  # the blurb's words this long are its distinctive ones (intros, credits, ...)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _paraphrases(words: list[str], blurb_words: set[str]) -> bool:
    distinctive = {w for w in blurb_words if len(w) >= _DISTINCTIVE_LEN}
    return len(set(words) & distinctive) >= _PARAPHRASE_WORDS


def _has_email(text: str) -> bool:
    from shared.domain.onboarding import typed_emails

    return bool(typed_emails(text))
