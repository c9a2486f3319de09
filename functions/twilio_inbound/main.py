"""twilio_inbound: Twilio's incoming-message webhook (public, signature-checked).

Records the SMS in one short transaction and answers empty TwiML; the agent runs later,
from the ``message.received`` event. Bad input gets a clear 4xx and writes nothing.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.adapters.request_auth import RequestRejected, read_twilio_form
from shared.logs import get_logger
from shared.service_layer.inbound_sms import InvalidInbound, parse_inbound_form, record_inbound_sms

log = get_logger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _reject(status: int, reason: str) -> Response:
    log.warning("inbound SMS webhook rejected", extra={"status": status, "reason": reason})
    return Response(reason + "\n", status=status, mimetype="text/plain")


@functions_framework.http
def twilio_inbound(request: Request) -> Response:
    try:
        sms = parse_inbound_form(read_twilio_form(request))
    except RequestRejected as exc:
        return _reject(exc.status, exc.reason)
    except InvalidInbound as exc:
        return _reject(exc.status, exc.reason)
    record_inbound_sms(sms)
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")
