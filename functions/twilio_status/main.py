"""twilio_status: Twilio's message-status callback (public, signature-checked).

Moves an outbound message forward only (queued -> sent -> delivered, or failed /
undelivered); replays and unknown SIDs are acknowledged and change nothing.

The entry point lives in ``shared.entrypoints.twilio_status``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("twilio_status")


@functions_framework.http
def twilio_status(request: Request) -> Response:
    return _handle(request)
