"""twilio_status: Twilio's message-status callback (public, signature-checked).

Moves an outbound message forward only (queued -> sent -> delivered, or failed /
undelivered); replays and unknown SIDs are acknowledged and change nothing.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.adapters.request_auth import RequestRejected, read_twilio_form
from shared.logs import get_logger
from shared.service_layer.delivery_status import (
    InvalidStatusCallback,
    apply_delivery_status,
    parse_status_form,
)

log = get_logger(__name__)


def _reject(status: int, reason: str) -> Response:
    log.warning("status callback rejected", extra={"status": status, "reason": reason})
    return Response(reason + "\n", status=status, mimetype="text/plain")


@functions_framework.http
def twilio_status(request: Request) -> Response:
    try:
        update = parse_status_form(read_twilio_form(request), message_id=request.args.get("message_id"))
    except RequestRejected as exc:
        return _reject(exc.status, exc.reason)
    except InvalidStatusCallback as exc:
        return _reject(400, str(exc))
    outcome = apply_delivery_status(update)
    return Response(str(outcome) + "\n", status=200, mimetype="text/plain")
