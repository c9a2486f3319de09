"""agent_instances: each agent's prompt/config version (issue 8 §7)."""

from __future__ import annotations

from uuid import UUID

from shared.adapters.postgres import Sql
from shared.adapters.repositories._rows import uuid_or_none


class AgentInstanceRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def find(self, agent_type: str, prompt_version: str) -> UUID | None:
        """The shared instance of ``agent_type`` at ``prompt_version``, if registered."""
        return uuid_or_none(
            self._sql.scalar("agent_instances_find", agent_type=agent_type, prompt_version=prompt_version)
        )

    def register(self, agent_type: str, prompt_version: str) -> None:
        """Register it (a concurrent registration wins quietly)."""
        self._sql.run("agent_instances_register", agent_type=agent_type, prompt_version=prompt_version)
