"""The turn framework shared by the point-of-contact agents (agents.md §0.4-§0.9, decisions A10, B14).

One turn, in one transaction:

1. take a transaction-scoped advisory lock on the user (one turn at a time per user);
2. find every inbound message no turn has answered yet (coalescing: rapid-fire texts get one
   reply); none left means another turn already answered them, and this delivery is a no-op;
3. load context (profile, summary, filtered history);
4. **Call 1**, the decision: the agent's decision tool, forced, validated by pydantic. A call
   that does not validate becomes the agent's safe decision (§0.9);
5. run the tools the decision asks for, each validated first, in a savepoint, with a
   ``TOOL_TIMEOUT`` each; a failing tool yields ``{error, errorType}`` instead of raising;
6. **Call 2**, the reply, with no tools; split with the tolerant parser; exclamation points
   become periods (§0.7) and the agent's ``finish_reply`` makes its deterministic edits (the
   Bouncer's canned blurb); then the deterministic guards. A reply that fails a guard is
   regenerated once, then replaced by the agent's safe template;
7. if more user texts arrived meanwhile, roll back and start over once, so they all get one
   reply; else write the replies through ``add_outbound_messages`` and the turn's marker row,
   and commit.

With no LLM (``deps.llm`` is None: no API key) or when it raises ``LlmUnavailable``, the agent's fallback
brain answers instead (deterministic templates that keep onboarding moving) and the failure is
logged. An exception anywhere rolls the turn back, then one graceful reply and an
``agent_invocation_error`` row are written in a fresh transaction.

An agent plugs in with an ``Agent``: prompts, the decision model, the tools and their handlers,
the fallback brain, the safe template.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from uuid import UUID

import pydantic

from shared import registry
from shared.adapters.llm import (
    InvalidToolCall,
    Llm,
    LlmRequest,
    LlmUnavailable,
    ToolCall,
    ToolSpec,
    parse_tool_call,
)
from shared.adapters.postgres import Row, Sql
from shared.agents.context import AgentContext, load_context, load_history, to_api_messages
from shared.agents.llm_config import call_settings
from shared.domain.constants import TOOL_TIMEOUT
from shared.domain.reply_guards import GuardContext, GuardViolation, calm_punctuation, check_reply
from shared.domain.reply_split import split_reply
from shared.logs import get_logger
from shared.service_layer.outbound import add_outbound_messages
from shared.service_layer.unit_of_work import PostgresUnitOfWork

log = get_logger(__name__)

AGENT_ROLES = list(registry.poc_agent_keys())  # roles whose outbound messages answer a member
TURN_LOCK_NAMESPACE = 7301  # advisory-lock class id for per-user agent turns
GRACEFUL_REPLY = "Sorry, I'm having trouble processing that. Could you rephrase?"  # agents.md §0.9
LATE_MESSAGE_RESTARTS = 1  # times a turn starts over to include texts that arrived while it composed


# --- What an agent supplies ---------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    name: str
    ok: bool
    output: dict[str, Any]  # the handler's result, or {"error": ..., "errorType": ...}


@dataclass
class Turn:
    """Everything one turn knows; handed to the agent's hooks."""

    ctx: AgentContext
    sql: Sql
    inbound: list[Row]  # the unanswered inbound messages this turn answers, oldest first
    uow: PostgresUnitOfWork | None = None  # emit events / write tasks in the turn's transaction
    call_kind: str = "decision"
    decision: pydantic.BaseModel | None = None
    tool_results: list[ToolResult] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)  # agent-private scratch space

    @property
    def user_id(self) -> UUID:
        return self.ctx.user_id

    @property
    def system_triggers(self) -> list[Row]:
        return [m for m in self.inbound if m["role"] == "system"]

    @property
    def user_texts(self) -> list[str]:
        return [str(m["content"]) for m in self.inbound if m["role"] == "user"]


ToolHandler = Callable[[Turn, Any], Mapping[str, Any]]


@dataclass(frozen=True)
class AgentTool:
    spec: ToolSpec
    handler: ToolHandler  # (turn, validated arguments) -> result dict


class Agent(Protocol):
    """What the framework needs from a point-of-contact agent."""

    # Read-only members: a class attribute or a property satisfies them.
    @property
    def name(self) -> str: ...  # 'bouncer' | 'concierge' | 'innovator': LLM agent key, outbound role

    @property
    def decision_tool(self) -> ToolSpec: ...  # Call 1's forced tool; its input model is the decision

    @property
    def tools(self) -> Mapping[str, AgentTool]: ...  # what a decision may ask to run

    @property
    def decision_prompt(self) -> str: ...  # static, cached

    @property
    def reply_prompt(self) -> str: ...  # static, cached

    @property
    def quotable(self) -> Sequence[str]: ...  # prompt passages a reply may quote (canned blurbs)

    @property
    def prompt_version(self) -> str: ...

    def history_limit(self, turn: Turn) -> int: ...

    def call_kind(self, turn: Turn) -> str: ...  # 'decision', 'reengagement_decision', ...

    def stable_context(self, turn: Turn) -> str: ...

    def decision_guidance(self, turn: Turn) -> str: ...

    def safe_decision(self, turn: Turn) -> pydantic.BaseModel: ...

    def actions(self, turn: Turn, decision: pydantic.BaseModel) -> list[tuple[str, Any]]: ...

    def reply_guidance(self, turn: Turn) -> str: ...  # uses turn.decision and turn.tool_results

    def wants_reply(self, turn: Turn) -> bool: ...  # False: stay silent (e.g. no re-engagement)

    def fallback(self, turn: Turn, tools: ToolRunner) -> list[str]: ...  # the no-LLM brain

    def safe_template(self, turn: Turn) -> list[str]: ...  # when guards fail twice

    def finish_reply(self, turn: Turn, parts: list[str]) -> list[str]: ...  # canned text, last edits

    def guard_context(self, turn: Turn) -> GuardContext: ...

    def after_turn(self, turn: Turn, bodies: list[str]) -> None: ...  # tasks, events, in the same tx


# --- Tools ------------------------------------------------------------------------------------


class ToolRunner:
    """Validates and runs tools, each in a savepoint with a timeout; never raises for a tool."""

    def __init__(self, turn: Turn, tools: Mapping[str, AgentTool], timeout: float) -> None:
        self._turn = turn
        self._tools = tools
        self._timeout = timeout

    def run(self, name: str, raw_arguments: Any) -> ToolResult:
        specs = [t.spec for t in self._tools.values()]
        parsed = parse_tool_call(specs, name, raw_arguments, call_id="")
        if isinstance(parsed, InvalidToolCall):
            log.warning("tool call refused: invalid arguments", extra={"tool": name, "error": parsed.error})
            return self._done(
                ToolResult(name, False, {"error": parsed.error, "errorType": "invalid_arguments"})
            )
        return self.run_valid(parsed)

    def run_valid(self, call: ToolCall) -> ToolResult:
        tool = self._tools[call.name]
        conn = self._turn.sql.conn
        savepoint = conn.transaction()  # a SAVEPOINT inside the turn's transaction
        savepoint.__enter__()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tool-{call.name}")
        future = pool.submit(tool.handler, self._turn, call.arguments)
        try:
            output = dict(future.result(timeout=self._timeout))
        except FutureTimeout:
            conn.cancel_safe()  # stop the tool's query, if it is in one
            _wait_quietly(future)
            savepoint.__exit__(LlmToolTimeout, LlmToolTimeout(), None)  # roll back the savepoint
            pool.shutdown(wait=False)
            log.warning("tool timed out", extra={"tool": call.name, "timeout_s": self._timeout})
            return self._done(ToolResult(call.name, False, {"error": "timed out", "errorType": "timeout"}))
        except Exception as exc:
            savepoint.__exit__(type(exc), exc, exc.__traceback__)
            pool.shutdown(wait=False)
            log.warning("tool failed", extra={"tool": call.name, "error": repr(exc)}, exc_info=True)
            return self._done(ToolResult(call.name, False, {"error": str(exc)[:300], "errorType": "failed"}))
        savepoint.__exit__(None, None, None)
        pool.shutdown(wait=False)
        return self._done(ToolResult(call.name, True, output))

    def _done(self, result: ToolResult) -> ToolResult:
        self._turn.tool_results.append(result)
        return result


class LlmToolTimeout(Exception):
    pass


def _wait_quietly(future: Any) -> None:
    with contextlib.suppress(Exception):  # the tool already counts as failed
        future.result(timeout=TOOL_TIMEOUT.total_seconds())


# --- The turn -------------------------------------------------------------------------------


@dataclass
class TurnResult:
    status: str  # 'answered' | 'silent' | 'noop' | 'no_user' | 'error_reply'
    path: str = ""  # 'llm' | 'fallback' | 'template' | 'graceful'
    message_ids: list[UUID] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    answered: list[UUID] = field(default_factory=list)
    guard_violations: list[GuardViolation] = field(default_factory=list)


class _LateMessages(Exception):
    """User texts arrived while the turn was composing: roll it back and answer them all at once."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} message(s) arrived during the turn")
        self.count = count


def run_turn(
    agent: Agent,
    user_id: UUID,
    *,
    llm: Llm | None,
    uow_factory: Callable[[], PostgresUnitOfWork] = PostgresUnitOfWork,
    tool_timeout: float | None = None,
) -> TurnResult:
    """Answer every unanswered inbound message of this user, once. Safe to call repeatedly.

    Rapid-fire texts get one reply: when more user texts arrive while the turn is composing its
    reply, the turn is rolled back and run again over all of them (at most
    ``LATE_MESSAGE_RESTARTS`` times; then the reply goes out and the late texts get their own turn).
    """
    model = llm
    timeout = tool_timeout if tool_timeout is not None else TOOL_TIMEOUT.total_seconds()
    started = time.monotonic()
    attempt = 0
    while True:
        holder: list[Turn] = []
        try:
            return _run_once(
                agent,
                user_id,
                model=model,
                timeout=timeout,
                uow_factory=uow_factory,
                started=started,
                holder=holder,
                recheck=attempt < LATE_MESSAGE_RESTARTS,
            )
        except _LateMessages as late:
            attempt += 1
            log.info(
                "turn: more texts arrived while composing; answering them together",
                extra={"agent": agent.name, "user_id": str(user_id), "late": late.count},
            )
        except Exception as exc:
            failed = holder[0] if holder else None
            return _graceful(agent, user_id, failed=failed, exc=exc, started=started, uow_factory=uow_factory)


def _run_once(
    agent: Agent,
    user_id: UUID,
    *,
    model: Llm | None,
    timeout: float,
    uow_factory: Callable[[], PostgresUnitOfWork],
    started: float,
    holder: list[Turn],
    recheck: bool,
) -> TurnResult:
    """One attempt at the turn; ``holder`` receives the Turn so a failure can be reported with it."""
    with uow_factory() as uow:
        uow.sql.one("turn_lock_user", namespace=TURN_LOCK_NAMESPACE, user_id=user_id)
        inbound = uow.sql.all("turn_unanswered_inbound", user_id=user_id, agent_roles=AGENT_ROLES)
        if not inbound:
            log.info("turn: nothing unanswered, no-op", extra={"agent": agent.name, "user_id": str(user_id)})
            return TurnResult(status="noop")
        conversation_id = UUID(str(inbound[-1]["conversation_id"]))
        ctx = load_context(uow.sql, user_id, history_limit=0, conversation_id=conversation_id)
        if ctx is None:
            return TurnResult(status="no_user")
        turn = Turn(ctx=ctx, sql=uow.sql, inbound=inbound, uow=uow)
        holder.append(turn)
        turn.call_kind = agent.call_kind(turn)
        ctx.history = load_history(uow.sql, conversation_id, agent.history_limit(turn))
        result = _answer(agent, turn, model, timeout)
        if recheck and result.bodies:
            seen = {m["id"] for m in inbound}
            late = [
                m
                for m in uow.sql.all("turn_unanswered_inbound", user_id=user_id, agent_roles=AGENT_ROLES)
                if m["id"] not in seen and m["role"] == "user"
            ]
            if late:
                raise _LateMessages(len(late))  # the unit of work rolls the turn back
        if result.bodies:
            result.message_ids = add_outbound_messages(
                uow.sql,
                user_id=user_id,
                conversation_id=conversation_id,
                role=agent.name,
                bodies=result.bodies,
            )
        agent.after_turn(turn, result.bodies)
        result.answered = [UUID(str(m["id"])) for m in inbound]
        _record_turn(uow.sql, agent, turn, result, started, error=None)
        uow.commit()
        return result


def _answer(agent: Agent, turn: Turn, llm: Llm | None, timeout: float) -> TurnResult:
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


def _fallback(agent: Agent, turn: Turn, runner: ToolRunner) -> TurnResult:
    bodies = [part for body in agent.fallback(turn, runner) for part in split_reply(body)]
    return TurnResult(status="answered" if bodies else "silent", path="fallback", bodies=bodies)


def _request(agent: Agent, turn: Turn, *, call_kind: str, system: str, dynamic: str, **kw: Any) -> LlmRequest:
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
        **kw,
    )


def _trigger_name(message: Row) -> str:
    content = str(message["content"])
    try:
        parsed = json.loads(content)
    except ValueError:
        return content[:60]
    if isinstance(parsed, dict):
        return str(parsed.get("type") or parsed.get("trigger") or content[:60])
    return content[:60]


def _llm_turn(agent: Agent, turn: Turn, llm: Llm, runner: ToolRunner) -> TurnResult:
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
    for attempt in range(2):
        guidance = agent.reply_guidance(turn)
        if violations:
            guidance += (
                "\n\nYOUR PREVIOUS DRAFT WAS REJECTED: it exposed internals or named someone not in the "
                "context. Write it again in plain words, naming only people given above."
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
        if parts and not violations:
            return TurnResult(status="answered", path="llm", bodies=parts)
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
        status="answered", path="template", bodies=agent.safe_template(turn), guard_violations=violations
    )


# --- Records ------------------------------------------------------------------------------


def _record_turn(
    sql: Sql, agent: Agent, turn: Turn, result: TurnResult, started: float, *, error: str | None
) -> None:
    answered_through = max(m["created_at"] for m in turn.inbound)
    decision = turn.decision.model_dump(mode="json") if turn.decision is not None else None
    sql.one(
        "turn_record",
        agent_type=agent.name,
        prompt_version=agent.prompt_version,
        action_type="agent_turn",
        user_id=turn.user_id,
        context_id=turn.ctx.conversation_id,
        input_data=json.dumps(
            {"message_ids": [str(m["id"]) for m in turn.inbound], "call_kind": turn.call_kind}
        ),
        output_data=json.dumps(
            {
                "answered_through": answered_through.isoformat(),
                "status": result.status,
                "path": result.path,
                "decision": decision,
                "tools": [{"name": r.name, "ok": r.ok} for r in turn.tool_results],
                "message_ids": [str(i) for i in result.message_ids],
                "guard_violations": [f"{v.kind}: {v.detail}" for v in result.guard_violations],
            },
            default=str,
        ),
        latency_ms=int((time.monotonic() - started) * 1000),
        error=error,
    )


def _graceful(
    agent: Agent,
    user_id: UUID,
    *,
    failed: Turn | None,
    exc: Exception,
    started: float,
    uow_factory: Callable[[], PostgresUnitOfWork],
) -> TurnResult:
    """agents.md §0.9: log ``agent_invocation_error`` and send one graceful reply."""
    stack = "".join(traceback.format_exception(exc))
    log.error(
        "agent turn failed; sending the graceful reply",
        extra={"agent": agent.name, "user_id": str(user_id), "error": repr(exc)},
        exc_info=exc,
    )
    with uow_factory() as uow:
        uow.sql.one("turn_lock_user", namespace=TURN_LOCK_NAMESPACE, user_id=user_id)
        inbound = uow.sql.all("turn_unanswered_inbound", user_id=user_id, agent_roles=AGENT_ROLES)
        if not inbound:
            return TurnResult(status="noop")
        conversation_id = UUID(str(inbound[-1]["conversation_id"]))
        ctx = load_context(uow.sql, user_id, history_limit=0, conversation_id=conversation_id)
        if ctx is None:
            raise exc
        turn = Turn(ctx=ctx, sql=uow.sql, inbound=inbound, uow=uow)
        if failed is not None:
            turn.decision, turn.tool_results = failed.decision, failed.tool_results
        result = TurnResult(status="error_reply", path="graceful", bodies=[GRACEFUL_REPLY])
        result.message_ids = add_outbound_messages(
            uow.sql, user_id=user_id, conversation_id=conversation_id, role=agent.name, bodies=result.bodies
        )
        result.answered = [UUID(str(m["id"])) for m in inbound]
        _record_turn(uow.sql, agent, turn, result, started, error=repr(exc))
        uow.sql.one(
            "turn_record",
            agent_type=agent.name,
            prompt_version=agent.prompt_version,
            action_type="agent_invocation_error",
            user_id=user_id,
            context_id=conversation_id,
            input_data=json.dumps(
                {"messages": [{"id": str(m["id"]), "content": m["content"]} for m in inbound]}, default=str
            ),
            output_data=json.dumps(
                {
                    "decision": turn.decision.model_dump(mode="json") if turn.decision is not None else None,
                    "tool_results": [r.__dict__ for r in turn.tool_results],
                    "stack": stack[-4000:],
                },
                default=str,
            ),
            latency_ms=int((time.monotonic() - started) * 1000),
            error=repr(exc)[:1000],
        )
        uow.commit()
        return result
