"""sms_sender: delivers outbound messages through Twilio (internal, HMAC-signed calls only).

Called by the database webhook for each new pending outbound message, with
``{"table": "messages", "type": "INSERT", "record_id": "<uuid>"}``, and by the scheduler
with ``{"sweep": true}`` to deliver rows whose webhook was lost.
"""

from __future__ import annotations

from uuid import UUID

import functions_framework
from flask import Request, Response, jsonify

from shared.adapters.internal_http import handle_internal_call, reject
from shared.service_layer.send_sms import deliver_message, parse_send_request, sweep_pending_messages


def _send(command: UUID | None) -> Response:
    if command is None:
        reports = sweep_pending_messages()
    else:
        reports = deliver_message(command)
        if reports[0].outcome == "not_found":
            return reject("sms_sender", 404, "no such outbound message")
    return jsonify(
        {"results": [{"message_id": str(r.message_id), "outcome": str(r.outcome)} for r in reports]}
    )


@functions_framework.http
def sms_sender(request: Request) -> Response:
    return handle_internal_call(request, "sms_sender", parse_send_request, _send)
