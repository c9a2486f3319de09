"""event_dispatcher: publishes the events outbox to Pub/Sub (internal calls only).

Called by the database webhook after events are inserted (``{"table": "events", "type":
"INSERT"}``, HMAC-signed) and by Cloud Scheduler every minute as the safety sweep
(``{"sweep": true}``, OIDC token). Both drain due events the same way.

The entry point lives in ``shared.entrypoints.event_dispatcher``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("event_dispatcher")


@functions_framework.http
def event_dispatcher(request: Request) -> Response:
    return _handle(request)
