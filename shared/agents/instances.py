"""``agent_instances``: one row per (agent, prompt or config version), registered at first use.

Every LLM call row and every turn row points at the instance of the prompt version that
produced it (issue 8 §7). The id is cached per process and database; a miss looks the row up
in the caller's transaction and, when it is missing, creates it in a short transaction of its
own, so that the LLM call log (written on another connection) can reference it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

from shared.adapters.unit_of_work import PostgresUnitOfWork

_cache: dict[tuple[str, str, str], UUID] = {}
_lock = threading.Lock()


def _database(uow: PostgresUnitOfWork) -> str:
    info = uow.sql.conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


def agent_instance_id(
    uow: PostgresUnitOfWork,
    agent_type: str,
    version: str,
    *,
    uow_factory: Callable[[], PostgresUnitOfWork],
) -> UUID:
    """The id of the shared instance of ``agent_type`` at ``version``, created if missing."""
    key = (_database(uow), agent_type, version)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    instance = uow.instances.find(agent_type, version)
    if instance is None:
        with uow_factory() as side:
            side.instances.register(agent_type, version)
            side.commit()
        instance = uow.instances.find(agent_type, version)
    if instance is None:
        raise RuntimeError(f"agent instance {agent_type}@{version} could not be registered")
    with _lock:
        _cache[key] = instance
    return instance
