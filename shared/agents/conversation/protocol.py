"""What a point-of-contact agent supplies to the turn framework, and what one turn knows.

An agent declares its own turn state (``StateT``, e.g. the Bouncer's ``BouncerTurnState``): the
framework creates it with ``agent.new_state()`` at the start of every turn and hands it around
as ``turn.state``, typed, instead of a dict of notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID, uuid4

import pydantic

from shared.adapters.llm import ToolSpec
from shared.adapters.repositories import InboundMessage
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.context import AgentContext
from shared.domain.reply_guards import GuardContext, GuardViolation

StateT = TypeVar("StateT")


@dataclass(frozen=True)
class ToolResult:
    name: str
    ok: bool
    output: dict[str, Any]  # the handler's result, or {"error": ..., "errorType": ...}


@dataclass(frozen=True)
class ProactiveDelivery:
    """How a proactive turn's message goes to ``message_queue`` (issue 8 §5, decisions B1-B3).

    A turn is proactive when it answers no user text (only system triggers: a follow-up, an
    email-verified notice). Its message is queued, so the orchestrator applies quiet hours,
    budgets and priority; a member who texted in the last 10 minutes still gets it at once.
    """

    priority: str = "medium"
    can_delay: bool = False  # False: due now; the orchestrator still defers it out of quiet hours
    requires_fresh_context: bool = True
    kind: str = ""  # message_data['kind'], so the agent can supersede its own queued messages
    superseded_by_reply: bool = True  # any user text after queueing makes it stale (freshness)


@dataclass
class Turn(Generic[StateT]):
    """Everything one turn knows; handed to the agent's hooks."""

    ctx: AgentContext
    uow: PostgresUnitOfWork  # the turn's transaction: its repositories, events, tasks
    inbound: list[InboundMessage]  # the unanswered inbound messages this turn answers, oldest first
    state: StateT  # the agent's own typed per-turn state (``Agent.new_state``)
    now: datetime  # the turn's clock reading (queued messages, follow-ups)
    id: UUID = field(default_factory=uuid4)  # agent_turns.id, known before the row is written
    agent_instance_id: UUID | None = None
    call_kind: str = "decision"
    decision: pydantic.BaseModel | None = None
    tool_results: list[ToolResult] = field(default_factory=list)
    # Inbound tapbacks (``reactions.read_reactions``): message id -> the text it counts as (a yes
    # or a no), or None for a reaction that only acknowledges (not a text the turn answers).
    reactions: dict[UUID, str | None] = field(default_factory=dict)

    @property
    def user_id(self) -> UUID:
        return self.ctx.user_id

    @property
    def system_triggers(self) -> list[InboundMessage]:
        return [m for m in self.inbound if m.role == "system"]

    @property
    def user_texts(self) -> list[str]:
        """The member's texts this turn answers; a tapback as what it counts as, if anything."""
        said = (self.reactions.get(m.id, m.content) for m in self.inbound if m.role == "user")
        return [text for text in said if text is not None]

    @property
    def is_reply(self) -> bool:
        """A turn that answers at least one user text: its messages are direct replies (B1)."""
        return bool(self.user_texts)


ToolHandler = Callable[[Turn[StateT], Any], Mapping[str, Any]]


@dataclass(frozen=True)
class AgentTool(Generic[StateT]):
    spec: ToolSpec
    handler: ToolHandler[StateT]  # (turn, validated arguments) -> result dict


@dataclass
class TurnResult:
    status: str  # 'answered' | 'silent' | 'noop' | 'no_user' | 'error_reply'
    path: str = ""  # 'llm' | 'fallback' | 'template' | 'graceful'
    message_ids: list[UUID] = field(default_factory=list)  # direct replies written to messages
    queue_ids: list[UUID] = field(default_factory=list)  # proactive parts put in message_queue
    bodies: list[str] = field(default_factory=list)
    answered: list[UUID] = field(default_factory=list)
    guard_violations: list[GuardViolation] = field(default_factory=list)
    turn_id: UUID | None = None

    @property
    def delivery(self) -> str:
        return "reply" if self.message_ids else "queued" if self.queue_ids else "none"


class ToolRunnerPort(Protocol):
    def run(self, name: str, raw_arguments: Any) -> ToolResult: ...


class Agent(Protocol[StateT]):
    """What the framework needs from a point-of-contact agent."""

    # Read-only members: a class attribute or a property satisfies them.
    @property
    def name(self) -> str: ...  # the registry key: LLM agent key, outbound role, agent_type

    @property
    def decision_tool(self) -> ToolSpec: ...  # Call 1's forced tool; its input model is the decision

    @property
    def tools(self) -> Mapping[str, AgentTool[StateT]]: ...  # what a decision may ask to run

    @property
    def decision_prompt(self) -> str: ...  # static, cached

    @property
    def reply_prompt(self) -> str: ...  # static, cached

    @property
    def quotable(self) -> Sequence[str]: ...  # prompt passages a reply may quote (canned blurbs)

    @property
    def prompt_version(self) -> str: ...  # registered in agent_instances

    @property
    def reads_reactions(self) -> bool: ...  # a like of its question is a yes (reactions.py)

    def new_state(self) -> StateT: ...  # a fresh per-turn state

    def history_limit(self, turn: Turn[StateT]) -> int: ...

    def call_kind(self, turn: Turn[StateT]) -> str: ...  # 'decision', 'reengagement_decision', ...

    def stable_context(self, turn: Turn[StateT]) -> str: ...

    def decision_guidance(self, turn: Turn[StateT]) -> str: ...

    def safe_decision(self, turn: Turn[StateT]) -> pydantic.BaseModel: ...

    def actions(self, turn: Turn[StateT], decision: pydantic.BaseModel) -> list[tuple[str, Any]]: ...

    def reply_guidance(self, turn: Turn[StateT]) -> str: ...  # uses turn.decision and turn.tool_results

    def wants_reply(self, turn: Turn[StateT]) -> bool: ...  # False: stay silent (e.g. no re-engagement)

    def fallback(self, turn: Turn[StateT], tools: ToolRunnerPort) -> list[str]: ...  # the no-LLM brain

    def safe_template(self, turn: Turn[StateT]) -> list[str]: ...  # when guards fail twice

    def finish_reply(self, turn: Turn[StateT], parts: list[str]) -> list[str]: ...  # canned text, last edits

    def guard_context(self, turn: Turn[StateT]) -> GuardContext: ...

    def proactive(self, turn: Turn[StateT]) -> ProactiveDelivery: ...  # how a proactive turn is queued

    def after_turn(self, turn: Turn[StateT], result: TurnResult) -> None: ...  # tasks, events, same tx
