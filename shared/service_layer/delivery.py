"""The generic delivery handler: one for every agent's Pub/Sub-triggered function.

It decodes the typed envelope (events and tasks alike, ``shared.service_layer.consumer``),
finds the agent by its function and the handler by (kind, type) in the registry
(``shared.registry``), and runs the handler inside the consumer's unit of work, so the
idempotency mark, the handler's writes and its follow-up events, tasks and queued messages
are one commit.

A handler is ``handle(delivery, uow, deps) -> dict | None``. Background agents do all their
work in ``uow``. The conversational turn is the one exception: it holds a per-user lock across
LLM calls in its own transaction (see docs/backbone.md, "Transactions"), and its exactly-once
comes from its own turn records, so a redelivery after a committed turn is a no-op.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

from cloudevents.abstract import CloudEvent

from shared import registry
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.consumer import Delivery, Outcome, PermanentError, consume
from shared.service_layer.deps import Deps


class AgentHandler(Protocol):
    def __call__(self, delivery: Delivery, uow: PostgresUnitOfWork, deps: Deps) -> dict[str, Any] | None: ...


@cache
def resolve_handler(path: str) -> AgentHandler:
    """``"module:function"`` -> the function (imported on first use)."""
    module_name, _, attribute = path.partition(":")
    handler: AgentHandler = getattr(importlib.import_module(module_name), attribute)
    return handler


def agent_handler(spec: registry.AgentSpec, deps: Deps) -> Callable[[Delivery, PostgresUnitOfWork], Any]:
    """The consumer handler for one agent: registry lookup, then the agent's own handler."""

    def handle(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
        path = spec.handler(delivery.kind, delivery.type)
        if not path:
            raise PermanentError(f"agent {spec.key!r} does not handle {delivery.kind} {delivery.type!r}")
        return resolve_handler(path)(delivery, uow, deps)

    return handle


def deliver(function: str, cloud_event: CloudEvent, deps: Deps) -> Outcome:
    """Handle one Pub/Sub push for the agent whose function is ``function``."""
    spec = registry.agent_for_function(function)
    if spec is None:
        raise LookupError(f"no agent in the registry has the function {function!r}")
    return consume(
        cloud_event, function, agent_handler(spec, deps), uow_factory=deps.uow_factory, now=deps.clock()
    )
