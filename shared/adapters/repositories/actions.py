"""agent_actions_log: the audit trail of agents and the orchestrator, the LLM cost ledger, and the
orchestrator's send ledger. One insert for every kind of row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import json_param, uuid_of


@dataclass(frozen=True)
class ActionRecord:
    """One agent_actions_log row. Unless ``agent_instance_id`` is given, the agent's active
    ``agent_instances`` row (of ``prompt_version`` when given) is looked up by the insert; an
    unknown ``user_id`` is stored as NULL."""

    agent_type: str
    action_type: str
    user_id: UUID | None = None
    context_id: UUID | None = None
    context_type: str | None = None
    input_data: dict[str, Any] | None = None
    output_data: dict[str, Any] | None = None
    error: str | None = None
    latency_ms: int | None = None
    prompt_version: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_usd: Decimal | None = None
    created_at: datetime | None = None  # None: now()
    agent_instance_id: UUID | None = None  # None: looked up from agent_type and prompt_version


class ActionRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def record(self, action: ActionRecord) -> UUID:
        # A caller that knows its agent_instances row (turns, LLM calls) skips the insert's lookup.
        known = action.agent_instance_id is not None
        row = self._sql.one(
            "agent_actions_insert_for_instance" if known else "agent_actions_insert",
            agent_type=action.agent_type,
            action_type=action.action_type,
            user_id=action.user_id,
            context_id=action.context_id,
            context_type=action.context_type,
            input_data=None if action.input_data is None else json_param(action.input_data),
            output_data=None if action.output_data is None else json_param(action.output_data),
            error=action.error,
            latency_ms=action.latency_ms,
            prompt_version=action.prompt_version,
            model=action.model,
            input_tokens=action.input_tokens,
            output_tokens=action.output_tokens,
            cache_read_tokens=action.cache_read_tokens,
            cache_write_tokens=action.cache_write_tokens,
            cost_usd=action.cost_usd,
            created_at=action.created_at,
            agent_instance_id=action.agent_instance_id,
        )
        assert row is not None
        return uuid_of(row["id"])

    def budgeted_sends(self, user_id: UUID, since: datetime, now: datetime) -> list[datetime]:
        """When the user's budgeted send units in (since, now] went out, oldest first."""
        rows = self._sql.all("agent_actions_budgeted_sends", user_id=user_id, since=since, now=now)
        return [r["created_at"] for r in rows]
