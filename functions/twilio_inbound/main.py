"""twilio_inbound: Twilio's incoming-message webhook (public, signature-checked).

Records the SMS in one short transaction and answers empty TwiML; the agent runs later,
from the ``message.received`` event. Bad input gets a clear 4xx and writes nothing.

The entry point lives in ``shared.entrypoints.twilio_inbound``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("twilio_inbound")


@functions_framework.http
def twilio_inbound(request: Request) -> Response:
    return _handle(request)
