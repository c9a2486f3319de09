"""task_sweeper: hands due agent tasks to their agents over Pub/Sub (internal calls only).

Called by the database webhook when a due task is inserted (``{"table": "agent_tasks",
"type": "INSERT"}``, HMAC-signed) and by Cloud Scheduler every minute (``{"sweep": true}``,
OIDC token). Each run requeues expired leases, then claims and publishes due tasks.

The entry point lives in ``shared.entrypoints.task_sweeper``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("task_sweeper")


@functions_framework.http
def task_sweeper(request: Request) -> Response:
    return _handle(request)
