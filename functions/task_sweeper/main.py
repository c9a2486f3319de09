"""task_sweeper: hands due agent tasks to their agents over Pub/Sub (internal calls only).

Called by the database webhook when a due task is inserted (``{"table": "agent_tasks",
"type": "INSERT"}``, HMAC-signed) and by Cloud Scheduler every minute (``{"sweep": true}``,
OIDC token). Each run requeues expired leases, then claims and publishes due tasks.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from shared.adapters.internal_http import handle_internal_call
from shared.adapters.pubsub import get_publisher
from shared.service_layer.sweep_tasks import sweep_tasks
from shared.service_layer.triggers import parse_trigger


def _sweep(trigger: str) -> dict[str, Any]:
    return {"trigger": trigger, **sweep_tasks(get_publisher()).as_dict()}


@functions_framework.http
def task_sweeper(request: Request) -> Response:
    return handle_internal_call(request, "task_sweeper", lambda b: parse_trigger(b, "agent_tasks"), _sweep)
