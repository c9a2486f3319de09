"""sms_sender: delivers outbound messages through Twilio (internal, HMAC-signed calls only).

Called by the database webhook for each new pending outbound message, with
``{"table": "messages", "type": "INSERT", "record_id": "<uuid>"}``, and by the scheduler
with ``{"sweep": true}`` to deliver rows whose webhook was lost.

The entry point lives in ``shared.entrypoints.sms_sender``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("sms_sender")


@functions_framework.http
def sms_sender(request: Request) -> Response:
    return _handle(request)
