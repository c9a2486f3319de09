"""retention: the daily retention job (internal calls only; platform §6.6).

Called by Cloud Scheduler (OIDC token) and the local scheduler loop (HMAC) with
``{"job": "retention"}``: archives, then deletes, in small batches, processed events after 90
days, finished tasks after 30, replayed dead letters after 90, and the action log and message
history after a year (``shared/service_layer/retention.py``).

The entry point lives in ``shared.entrypoints.retention``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("retention")


@functions_framework.http
def retention(request: Request) -> Response:
    return _handle(request)
