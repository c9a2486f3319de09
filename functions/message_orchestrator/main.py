"""message_orchestrator: delivers due proactive messages from message_queue (internal, HMAC-signed).

Called by Cloud Scheduler every minute with ``{"sweep": true}`` and by the database webhook
when a queued row due now is inserted, with ``{"table": "message_queue", "type": "INSERT"}``.
Both run the same tick (``shared/service_layer/orchestrate.py``); a repeated call is harmless.

Answers: 200 with the tick's counts; 400 malformed body; 401 unsigned or wrong signature;
405 not POST; 413 oversized; 415 not JSON.

The entry point lives in ``shared.entrypoints.message_orchestrator``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("message_orchestrator")


@functions_framework.http
def message_orchestrator(request: Request) -> Response:
    return _handle(request)
