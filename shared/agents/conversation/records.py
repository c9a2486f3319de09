"""What a committed turn leaves behind, written in the turn's own transaction.

- ``agent_turns``: one row per turn (status, path, decision, tools, what went out and how);
- ``messages.answered_by_turn_id``: the answered-by marker on every inbound message the turn
  answered. This marker is the turn framework's exactly-once: the next turn answers only
  messages without it, so a redelivered event finds nothing left and is a no-op;
- ``agent_actions_log``: the audit row (``agent_turn``, and ``agent_invocation_error`` for a
  failed turn). Nothing reads state back from it.
"""

from __future__ import annotations

import time
import traceback
from typing import Any
from uuid import UUID

from shared.adapters.repositories import ActionRecord, TurnRecord
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.agents.conversation.protocol import Turn, TurnResult


class AlreadyAnswered(Exception):
    """Another turn marked one of these messages first: this turn must roll back."""


def _violations(result: TurnResult) -> list[str]:
    return [f"{v.kind}: {v.detail}" for v in result.guard_violations]


def _decision(turn: Turn[Any]) -> dict[str, Any] | None:
    return turn.decision.model_dump(mode="json") if turn.decision is not None else None


def record_turn(
    uow: PostgresUnitOfWork,
    *,
    agent_name: str,
    prompt_version: str,
    turn: Turn[Any],
    result: TurnResult,
    started: float,
    error: str | None,
) -> UUID:
    """Write the turn row, mark its inbound messages answered, and write the audit row."""
    message_ids = [m.id for m in turn.inbound]
    latency_ms = int((time.monotonic() - started) * 1000)
    tools = [{"name": r.name, "ok": r.ok} for r in turn.tool_results]
    uow.turns.add(
        TurnRecord(
            id=turn.id,
            agent_type=agent_name,
            agent_instance_id=turn.agent_instance_id,
            prompt_version=prompt_version,
            user_id=turn.user_id,
            conversation_id=turn.ctx.conversation_id,
            call_kind=turn.call_kind,
            status=result.status,
            path=result.path,
            delivery=result.delivery,
            decision=_decision(turn),
            tools=tools,
            message_ids=result.message_ids,
            queue_ids=result.queue_ids,
            guard_violations=_violations(result),
            error=error,
            latency_ms=latency_ms,
        )
    )
    marked = uow.messages.mark_answered(turn.id, message_ids)
    if len(marked) != len(message_ids):
        raise AlreadyAnswered(f"{len(message_ids) - len(marked)} message(s) were answered by another turn")
    result.turn_id = turn.id
    result.answered = message_ids
    uow.actions.record(
        ActionRecord(
            agent_type=agent_name,
            agent_instance_id=turn.agent_instance_id,
            prompt_version=prompt_version,
            action_type="agent_turn",
            user_id=turn.user_id,
            context_id=turn.ctx.conversation_id,
            context_type="conversation",
            input_data={
                "turn_id": str(turn.id),
                "message_ids": [str(i) for i in message_ids],
                "call_kind": turn.call_kind,
            },
            output_data={
                "status": result.status,
                "path": result.path,
                "delivery": result.delivery,
                "decision": _decision(turn),
                "tools": tools,
                "message_ids": [str(i) for i in result.message_ids],
                "queue_ids": [str(i) for i in result.queue_ids],
                "guard_violations": _violations(result),
            },
            latency_ms=latency_ms,
            error=error,
        )
    )
    return turn.id


def record_invocation_error(
    uow: PostgresUnitOfWork,
    *,
    agent_name: str,
    prompt_version: str,
    turn: Turn[Any],
    exc: Exception,
    started: float,
) -> None:
    """agents.md §0.9: the ``agent_invocation_error`` audit row of a failed turn."""
    stack = "".join(traceback.format_exception(exc))
    uow.actions.record(
        ActionRecord(
            agent_type=agent_name,
            agent_instance_id=turn.agent_instance_id,
            prompt_version=prompt_version,
            action_type="agent_invocation_error",
            user_id=turn.user_id,
            context_id=turn.ctx.conversation_id,
            context_type="conversation",
            input_data={
                "turn_id": str(turn.id),
                "messages": [{"id": str(m.id), "content": m.content} for m in turn.inbound],
            },
            output_data={
                "decision": _decision(turn),
                "tool_results": [r.__dict__ for r in turn.tool_results],
                "stack": stack[-4000:],
            },
            latency_ms=int((time.monotonic() - started) * 1000),
            error=repr(exc)[:1000],
        )
    )
