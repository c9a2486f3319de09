"""message_orchestrator: delivers due proactive messages from message_queue (internal, HMAC-signed).

Called by Cloud Scheduler every minute with ``{"sweep": true}`` and by the database webhook
when a queued row due now is inserted, with ``{"table": "message_queue", "type": "INSERT"}``.
Both run the same tick (``shared/service_layer/orchestrate.py``); a repeated call is harmless.

Answers: 200 with the tick's counts; 400 malformed body; 401 unsigned or wrong signature;
405 not POST; 413 oversized; 415 not JSON.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from shared.adapters.internal_http import handle_internal_call
from shared.service_layer.orchestrate import deliver_due_messages
from shared.service_layer.triggers import parse_trigger


def _tick(trigger: str) -> dict[str, Any]:
    return {"trigger": trigger, **deliver_due_messages(trigger=trigger).as_dict()}


@functions_framework.http
def message_orchestrator(request: Request) -> Response:
    return handle_internal_call(
        request, "message_orchestrator", lambda b: parse_trigger(b, "message_queue"), _tick
    )
