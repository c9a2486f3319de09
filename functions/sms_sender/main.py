"""sms_sender: delivers outbound messages through Twilio (internal, HMAC-signed calls only).

Called by the database webhook for each new pending outbound message, with
``{"table": "messages", "type": "INSERT", "record_id": "<uuid>"}``, and by the scheduler
with ``{"sweep": true}`` to deliver rows whose webhook was lost.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response, jsonify

from shared.adapters.request_auth import RequestRejected, Unauthorized, authenticate_internal, read_body
from shared.logs import get_logger
from shared.service_layer.send_sms import (
    InvalidSendRequest,
    deliver_message,
    parse_send_request,
    sweep_pending_messages,
)

log = get_logger(__name__)


def _reject(status: int, reason: str) -> Response:
    log.warning("sms_sender call rejected", extra={"status": status, "reason": reason})
    response = jsonify({"error": reason})
    response.status_code = status
    return response


@functions_framework.http
def sms_sender(request: Request) -> Response:
    try:
        body = read_body(request, content_type="application/json")
        authenticate_internal(request.headers, body)
        command = parse_send_request(body)
    except RequestRejected as exc:
        return _reject(exc.status, exc.reason)
    except Unauthorized as exc:
        return _reject(401, str(exc))
    except InvalidSendRequest as exc:
        return _reject(400, str(exc))
    if command is None:
        reports = sweep_pending_messages()
    else:
        reports = deliver_message(command)
        if reports[0].outcome == "not_found":
            return _reject(404, "no such outbound message")
    return jsonify(
        {"results": [{"message_id": str(r.message_id), "outcome": str(r.outcome)} for r in reports]}
    )
