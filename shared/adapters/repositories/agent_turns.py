"""agent_turns: one row per committed conversational turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_param


@dataclass(frozen=True)
class TurnRecord:
    id: UUID  # chosen before the turn writes anything
    agent_type: str
    agent_instance_id: UUID | None
    prompt_version: str
    user_id: UUID
    conversation_id: UUID | None
    call_kind: str
    status: str
    path: str
    delivery: str
    decision: dict[str, Any] | None
    tools: list[dict[str, Any]]
    latency_ms: int
    message_ids: list[UUID] = field(default_factory=list)
    queue_ids: list[UUID] = field(default_factory=list)
    guard_violations: list[str] = field(default_factory=list)
    error: str | None = None


class AgentTurnRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def add(self, turn: TurnRecord) -> None:
        self._sql.one(
            "agent_turns_insert",
            id=turn.id,
            agent_type=turn.agent_type,
            agent_instance_id=turn.agent_instance_id,
            prompt_version=turn.prompt_version,
            user_id=turn.user_id,
            conversation_id=turn.conversation_id,
            call_kind=turn.call_kind,
            status=turn.status,
            path=turn.path,
            delivery=turn.delivery,
            decision=json_param(turn.decision),
            tools=json_param(turn.tools),
            message_ids=turn.message_ids,
            queue_ids=turn.queue_ids,
            guard_violations=turn.guard_violations,
            error=turn.error,
            latency_ms=turn.latency_ms,
        )
