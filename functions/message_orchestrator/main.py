"""message_orchestrator: delivers due proactive messages from message_queue (internal, HMAC-signed).

Called by Cloud Scheduler every minute with ``{"sweep": true}`` and by the database webhook
when a queued row due now is inserted, with ``{"table": "message_queue", "type": "INSERT"}``.
Both run the same tick (``shared/service_layer/orchestrate.py``); a repeated call is harmless.

Answers: 200 with the tick's counts; 400 malformed body; 401 unsigned or wrong signature;
405 not POST; 413 oversized; 415 not JSON.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response, jsonify

from shared.adapters.request_auth import RequestRejected, Unauthorized, authenticate_internal, read_body
from shared.logs import get_logger
from shared.service_layer.orchestrate import InvalidTickRequest, deliver_due_messages, parse_tick_request

log = get_logger(__name__)


def _reject(status: int, reason: str) -> Response:
    log.warning("message_orchestrator call rejected", extra={"status": status, "reason": reason})
    response = jsonify({"error": reason})
    response.status_code = status
    return response


@functions_framework.http
def message_orchestrator(request: Request) -> Response:
    try:
        body = read_body(request, content_type="application/json")
        authenticate_internal(request.headers, body)
        trigger = parse_tick_request(body)
    except RequestRejected as exc:
        return _reject(exc.status, exc.reason)
    except Unauthorized as exc:
        return _reject(401, str(exc))
    except InvalidTickRequest as exc:
        return _reject(400, str(exc))
    report = deliver_due_messages(trigger=trigger)
    return jsonify({"trigger": trigger, **report.as_dict()})
