"""One conversational turn of a point-of-contact agent (agents.md §0.4-§0.9, decisions A10, B1, B14).

One turn, in its own transaction:

1. lock the user (``uow.users.lock(user, UserLock.TURN)``: one turn at a time per user);
2. find every inbound message without an answered-by marker (coalescing: rapid-fire texts
   get one reply); none left means another turn already answered them, and this delivery is
   a no-op;
3. load context (profile, summary, filtered history) and the agent's typed turn state;
4. **Call 1**, the decision: the agent's decision tool, forced, validated by pydantic. A call
   that does not validate becomes the agent's safe decision (§0.9);
5. run the tools the decision asks for (``ToolRunner``: validated, savepoint, timeout each);
6. **Call 2**, the reply, with no tools; split with the tolerant parser; exclamation points
   become periods (§0.7) and the agent's ``finish_reply`` makes its deterministic edits; then
   the deterministic guards. A reply that fails a guard is regenerated once (told what failed),
   then replaced by the agent's safe template; every hit is logged and kept on the turn row
   (``agent_turns.guard_violations``), a rejected first draft included;
7. if more user texts arrived meanwhile, roll back and start over once, so they all get one
   reply; else deliver: a turn that answers a user text writes its **reply** straight to
   ``messages`` (``add_outbound_messages``); a **proactive** turn (system triggers only: a
   follow-up, an email-verified notice) queues its message in ``message_queue`` with the
   agent's priority and freshness flags, for the orchestrator's quiet hours and budgets;
8. ``agent.after_turn`` (tasks, events), the ``agent_turns`` row, the answered-by markers and the
   audit row (``records.py``); commit.

With no LLM (``llm=None``: ``deps.llm`` without an API key) or when it raises
``LlmUnavailable``, the agent's fallback brain answers instead (deterministic templates that
keep onboarding moving) and the failure is logged. An exception anywhere rolls the turn back;
then, in a fresh transaction, a turn that answered user texts sends one graceful reply (a
proactive one stays silent), and the turn row and an ``agent_invocation_error`` row are written.

Why a turn commits on its own and not in the consumer's unit of work: it holds the user's
lock across two LLM calls and may roll back and rerun once (docs/backbone.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared import registry
from shared.adapters.llm import Llm, LlmRequest, LlmUnavailable
from shared.adapters.outbound import add_outbound_messages
from shared.adapters.queue_messages import queue_message
from shared.adapters.repositories import InboundMessage, UserLock
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.context import load_context, load_history, to_api_messages
from shared.agents.conversation.protocol import Agent, StateT, Turn, TurnResult
from shared.agents.conversation.reactions import read_reactions
from shared.agents.conversation.records import record_invocation_error, record_turn
from shared.agents.conversation.tools import ToolRunner
from shared.agents.instances import agent_instance_id
from shared.agents.llm_config import call_settings
from shared.domain.constants import BURST_MAX_WAIT, BURST_QUIET_GAP, TOOL_TIMEOUT
from shared.domain.reply_guards import GuardViolation, calm_punctuation, check_reply
from shared.domain.reply_split import split_reply
from shared.logs import get_logger

log = get_logger(__name__)

GRACEFUL_REPLY = "Sorry, I'm having trouble processing that. Could you rephrase?"  # agents.md §0.9
LATE_MESSAGE_RESTARTS = 1  # times a turn starts over to include texts that arrived while it composed

Clock = Callable[[], datetime]
UowFactory = Callable[[], PostgresUnitOfWork]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class _LateMessages(Exception):
    """User texts arrived while the turn was composing: roll it back and answer them all at once."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} message(s) arrived during the turn")
        self.count = count


class _Unsettled(Exception):
    """A text arrived between the burst's settling and the turn's lock: settle again first."""


@dataclass(frozen=True)
class BurstWait:
    """How long a turn lets a burst of texts settle before answering (0 and 0: never waits)."""

    quiet_gap: float  # seconds since the member's latest unanswered text
    max_wait: float  # seconds since their first unanswered text, at most
    sleep: Callable[[float], None] = time.sleep

    def remaining(self, since_last: float, since_first: float) -> float:
        """Seconds still to wait: until the quiet gap after the latest text, capped by the
        bound from the first (zero or less: settled)."""
        return min(self.quiet_gap - since_last, self.max_wait - since_first)

    @classmethod
    def default(cls) -> BurstWait:
        return cls(BURST_QUIET_GAP.total_seconds(), BURST_MAX_WAIT.total_seconds())


NO_BURST_WAIT = BurstWait(0.0, 0.0)


def settle_burst(user_id: UUID, uow_factory: UowFactory, burst: BurstWait) -> float:
    """Wait, outside any transaction, until the member's texts have paused for ``quiet_gap``
    seconds (bounded by ``max_wait`` from the first), so a burst gets one considered reply.
    Returns the seconds waited. The webhook never waits: this runs in the agent."""
    waited = 0.0
    while burst.quiet_gap > 0:
        with uow_factory() as uow:
            age = uow.messages.unanswered_texts_age(user_id)
        if age is None:
            return waited
        wait = burst.remaining(age.since_last, age.since_first)
        if wait <= 0:
            return waited
        burst.sleep(wait)
        waited += wait
    return waited


def _burst_settled(uow: PostgresUnitOfWork, user_id: UUID, burst: BurstWait) -> bool:
    """Under the turn's lock: has the member been quiet for the gap (or the wait run out)? A text
    that arrived after ``settle_burst`` looked would otherwise be answered before its burst ends."""
    if burst.quiet_gap <= 0:
        return True
    age = uow.messages.unanswered_texts_age(user_id)
    return age is None or burst.remaining(age.since_last, age.since_first) <= 0


def run_turn(
    agent: Agent[StateT],
    user_id: UUID,
    *,
    llm: Llm | None,
    uow_factory: UowFactory = PostgresUnitOfWork,
    clock: Clock = _wall_clock,
    tool_timeout: float | None = None,
    burst: BurstWait = NO_BURST_WAIT,
) -> TurnResult:
    """Answer every unanswered inbound message of this user, once. Safe to call repeatedly.

    Rapid-fire texts get one reply: first the turn waits for the burst to settle
    (``settle_burst``); then, when more user texts arrive while the turn is composing its reply,
    the turn is rolled back and run again over all of them (at most ``LATE_MESSAGE_RESTARTS``
    times; then the reply goes out and the late texts get their own turn).
    """
    waited = settle_burst(user_id, uow_factory, burst)
    if waited:
        log.info("turn: waited for the burst to settle", extra={"user_id": str(user_id), "waited_s": waited})
    timeout = tool_timeout if tool_timeout is not None else TOOL_TIMEOUT.total_seconds()
    started = time.monotonic()
    attempt = 0
    while True:
        holder: list[Turn[StateT]] = []
        try:
            return _run_once(
                agent,
                user_id,
                model=llm,
                timeout=timeout,
                uow_factory=uow_factory,
                clock=clock,
                started=started,
                holder=holder,
                recheck=attempt < LATE_MESSAGE_RESTARTS,
                burst=burst,
            )
        except _Unsettled:  # ends: max_wait bounds the settling from the burst's first text
            waited = settle_burst(user_id, uow_factory, burst)
            log.info(
                "turn: a text arrived as the turn began; waited for its burst to settle",
                extra={"agent": agent.name, "user_id": str(user_id), "waited_s": waited},
            )
        except _LateMessages as late:
            attempt += 1
            log.info(
                "turn: more texts arrived while composing; answering them together",
                extra={"agent": agent.name, "user_id": str(user_id), "late": late.count},
            )
        except Exception as exc:
            failed = holder[0] if holder else None
            return _graceful(
                agent,
                user_id,
                failed=failed,
                exc=exc,
                started=started,
                uow_factory=uow_factory,
                clock=clock,
            )


def _open_turn(
    agent: Agent[StateT],
    uow: PostgresUnitOfWork,
    user_id: UUID,
    *,
    uow_factory: UowFactory,
    clock: Clock,
    burst: BurstWait = NO_BURST_WAIT,
) -> Turn[StateT] | TurnResult:
    """Lock the user and gather what the turn answers; a ``TurnResult`` when there is nothing to do.
    Raises ``_Unsettled`` when a text arrived after the burst settled (the lock is released)."""
    uow.users.lock(user_id, UserLock.TURN)
    inbound = uow.messages.unanswered_inbound(user_id)
    if not inbound:
        log.info("turn: nothing unanswered, no-op", extra={"agent": agent.name, "user_id": str(user_id)})
        return TurnResult(status="noop")
    if not _burst_settled(uow, user_id, burst):
        raise _Unsettled
    conversation_id = inbound[-1].conversation_id
    ctx = load_context(uow, user_id, history_limit=0, conversation_id=conversation_id)
    if ctx is None:
        return TurnResult(status="no_user")
    return Turn(
        ctx=ctx,
        uow=uow,
        inbound=inbound,
        state=agent.new_state(),
        now=clock(),
        agent_instance_id=agent_instance_id(uow, agent.name, agent.prompt_version, uow_factory=uow_factory),
    )


def _run_once(
    agent: Agent[StateT],
    user_id: UUID,
    *,
    model: Llm | None,
    timeout: float,
    uow_factory: UowFactory,
    clock: Clock,
    started: float,
    holder: list[Turn[StateT]],
    recheck: bool,
    burst: BurstWait = NO_BURST_WAIT,
) -> TurnResult:
    """One attempt at the turn; ``holder`` receives the Turn so a failure can be reported with it."""
    with uow_factory() as uow:
        opened = _open_turn(agent, uow, user_id, uow_factory=uow_factory, clock=clock, burst=burst)
        if isinstance(opened, TurnResult):
            return opened
        turn = opened
        holder.append(turn)
        turn.call_kind = agent.call_kind(turn)
        turn.ctx.history = load_history(uow.messages, _conversation(turn), agent.history_limit(turn))
        if read_reactions(turn, reads_answers=agent.reads_reactions) and not (
            turn.user_texts or turn.system_triggers
        ):
            # Only reactions that acknowledge ("Liked “Thanks, I'll ask around.”"): no reply.
            log.info("turn: only reactions, no reply", extra={"agent": agent.name, "user_id": str(user_id)})
            result = TurnResult(status="silent")
        else:
            result = _answer(agent, turn, model, timeout)
        if recheck and result.bodies:
            seen = {m.id for m in turn.inbound}
            late = [
                m for m in uow.messages.unanswered_inbound(user_id) if m.id not in seen and m.role == "user"
            ]
            if late:
                raise _LateMessages(len(late))  # the unit of work rolls the turn back
        _deliver(agent, turn, result)
        agent.after_turn(turn, result)
        record_turn(
            uow,
            agent_name=agent.name,
            prompt_version=agent.prompt_version,
            turn=turn,
            result=result,
            started=started,
            error=None,
        )
        uow.commit()
        return result


def _conversation(turn: Turn[Any]) -> UUID:
    return turn.inbound[-1].conversation_id


def _deliver(agent: Agent[StateT], turn: Turn[StateT], result: TurnResult) -> None:
    """A reply goes straight to ``messages``; a proactive message to ``message_queue`` (B1, B14)."""
    if not result.bodies:
        return
    if turn.is_reply:
        result.message_ids = add_outbound_messages(
            turn.uow.messages,
            user_id=turn.user_id,
            conversation_id=_conversation(turn),
            role=agent.name,
            bodies=result.bodies,
        )
        return
    how = agent.proactive(turn)
    queued = queue_message(
        turn.uow,
        user_id=turn.user_id,
        agent_id=agent.name,
        now=turn.now,
        parts=result.bodies,
        message_data={
            "kind": how.kind,
            "turn_id": str(turn.id),
            "superseded_by_reply": how.superseded_by_reply,
        },
        priority=how.priority,
        can_delay=how.can_delay,
        requires_fresh_context=how.requires_fresh_context,
        conversation_id=_conversation(turn),
    )
    result.queue_ids = queued.ids


def _answer(agent: Agent[StateT], turn: Turn[StateT], llm: Llm | None, timeout: float) -> TurnResult:
    runner = ToolRunner(turn, agent.tools, timeout)
    if llm is None:
        log.info(
            "turn: no LLM configured, fallback brain",
            extra={"agent": agent.name, "user_id": str(turn.user_id)},
        )
        return _fallback(agent, turn, runner)
    try:
        return _llm_turn(agent, turn, llm, runner)
    except LlmUnavailable as exc:
        log.warning(
            "turn: LLM unavailable, fallback brain",
            extra={"agent": agent.name, "user_id": str(turn.user_id), "reason": exc.reason},
        )
        if turn.tool_results:  # Call 1 ran its tools; do not run them twice
            return TurnResult(status="answered", path="template", bodies=agent.safe_template(turn))
        return _fallback(agent, turn, runner)


def _fallback(agent: Agent[StateT], turn: Turn[StateT], runner: ToolRunner[StateT]) -> TurnResult:
    bodies = [part for body in agent.fallback(turn, runner) for part in split_reply(body)]
    return TurnResult(status="answered" if bodies else "silent", path="fallback", bodies=bodies)


def _request(
    agent: Agent[StateT], turn: Turn[StateT], *, call_kind: str, system: str, dynamic: str, **kw: Any
) -> LlmRequest:
    trigger_note = None
    if turn.system_triggers and not turn.user_texts:
        trigger_note = (
            "(No new message from the user. This turn was started by: "
            + ", ".join(_trigger_name(m) for m in turn.system_triggers)
            + ".)"
        )
    return LlmRequest(
        agent=agent.name,
        call_kind=call_kind,
        settings=call_settings(agent.name, call_kind),
        system=system,
        stable_context=agent.stable_context(turn),
        dynamic_context=dynamic,
        messages=to_api_messages(turn.ctx.history, trigger_note=trigger_note),
        user_id=turn.user_id,
        context_id=turn.ctx.conversation_id,
        context_type="conversation",
        prompt_version=agent.prompt_version,
        agent_instance_id=turn.agent_instance_id,
        **kw,
    )


def _trigger_name(message: InboundMessage) -> str:
    content = message.content
    try:
        parsed = json.loads(content)
    except ValueError:
        return content[:60]
    if isinstance(parsed, dict):
        return str(parsed.get("type") or parsed.get("trigger") or content[:60])
    return content[:60]


def _llm_turn(agent: Agent[StateT], turn: Turn[StateT], llm: Llm, runner: ToolRunner[StateT]) -> TurnResult:
    decision_response = llm.complete(
        _request(
            agent,
            turn,
            call_kind=turn.call_kind,
            system=agent.decision_prompt,
            dynamic=agent.decision_guidance(turn),
            tools=[agent.decision_tool],
            force_tool=agent.decision_tool.name,
        )
    )
    call = decision_response.tool_call(agent.decision_tool.name)
    if call is None:
        log.warning(
            "decision did not validate; using the safe decision",
            extra={
                "agent": agent.name,
                "invalid": [c.error for c in decision_response.invalid_tool_calls],
                "text": decision_response.text[:200],
            },
        )
        turn.decision = agent.safe_decision(turn)
    else:
        turn.decision = call.arguments
    for name, raw in agent.actions(turn, turn.decision):
        runner.run(name, raw)
    if not agent.wants_reply(turn):
        return TurnResult(status="silent", path="llm")
    violations: list[GuardViolation] = []
    guard_ctx = agent.guard_context(turn)
    # names and facts the tools returned are part of what the model was given
    tool_text = json.dumps([r.output for r in turn.tool_results], default=str)
    # the agents' own names are product words, never invented people
    agents = " ".join(registry.agent_keys())
    guard_ctx = replace(guard_ctx, context_text=f"{guard_ctx.context_text}\n{tool_text}\n{agents}")
    hits: list[GuardViolation] = []  # every attempt's, for the turn row
    for attempt in range(2):
        guidance = agent.reply_guidance(turn)
        if violations:
            guidance += (
                "\n\nYOUR PREVIOUS DRAFT WAS REJECTED ("
                + "; ".join(f"{v.kind}: {v.detail}" for v in violations)
                + "): it exposed internals, or named a person, company, number, link or result that is "
                "not in the context or the tool results. Write it again in plain words, using only "
                "names, numbers and results given above."
            )
        reply = llm.complete(
            _request(agent, turn, call_kind="reply", system=agent.reply_prompt, dynamic=guidance)
        )
        parts = (
            agent.finish_reply(turn, [calm_punctuation(p) for p in split_reply(reply.text)])
            if reply.text
            else []
        )
        violations = check_reply(parts, guard_ctx)
        hits += violations
        if parts and not violations:
            return TurnResult(status="answered", path="llm", bodies=parts, guard_violations=hits)
        log.warning(
            "reply failed the guards" if parts else "empty reply",
            extra={
                "agent": agent.name,
                "user_id": str(turn.user_id),
                "attempt": attempt + 1,
                "violations": [f"{v.kind}: {v.detail}" for v in violations],
            },
        )
    return TurnResult(
        status="answered", path="template", bodies=agent.safe_template(turn), guard_violations=hits
    )


def _graceful(
    agent: Agent[StateT],
    user_id: UUID,
    *,
    failed: Turn[StateT] | None,
    exc: Exception,
    started: float,
    uow_factory: UowFactory,
    clock: Clock,
) -> TurnResult:
    """agents.md §0.9: log ``agent_invocation_error``; a member who wrote gets one graceful reply."""
    log.error(
        "agent turn failed; sending the graceful reply",
        extra={"agent": agent.name, "user_id": str(user_id), "error": repr(exc)},
        exc_info=exc,
    )
    with uow_factory() as uow:
        opened = _open_turn(agent, uow, user_id, uow_factory=uow_factory, clock=clock)
        if isinstance(opened, TurnResult):
            if opened.status == "no_user":
                raise exc
            return opened
        turn = opened
        if failed is not None:
            turn.decision, turn.tool_results = failed.decision, failed.tool_results
            turn.call_kind = failed.call_kind
        if turn.is_reply:
            result = TurnResult(status="error_reply", path="graceful", bodies=[GRACEFUL_REPLY])
            _deliver(agent, turn, result)
        else:  # a proactive turn that failed says nothing rather than "could you rephrase?"
            result = TurnResult(status="silent", path="graceful")
        record_turn(
            uow,
            agent_name=agent.name,
            prompt_version=agent.prompt_version,
            turn=turn,
            result=result,
            started=started,
            error=repr(exc),
        )
        record_invocation_error(
            uow,
            agent_name=agent.name,
            prompt_version=agent.prompt_version,
            turn=turn,
            exc=exc,
            started=started,
        )
        uow.commit()
        return result
