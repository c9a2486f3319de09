"""agent_solution_saga: vendor research as an event-driven workflow (agents.md §9, issue 11).

Handles ``user.inquiry.solution_needed``, ``process_community_response`` and
``solution_workflow_timeout``. The handlers are the registry's (``shared.registry``); decoding,
idempotency, retries and dead letters are the consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_solution_saga")


@functions_framework.cloud_event
def agent_solution_saga(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
