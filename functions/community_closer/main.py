"""community_closer: the hourly closure of community requests (internal calls only).

Called by Cloud Scheduler (OIDC token) and the local scheduler loop (HMAC) with
``{"job": "close_expired_requests"}``: closes expired requests and those every asked expert has
answered, their responses move to ``closed_loop`` and ``community.request_closed`` is published
(agents.md §8.14); then routes again the open requests that asked no expert yet (docs/community.md,
step 6).

The entry point lives in ``shared.entrypoints.community_closer``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("community_closer")


@functions_framework.http
def community_closer(request: Request) -> Response:
    return _handle(request)
