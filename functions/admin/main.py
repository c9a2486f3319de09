"""admin: operator approval over HTTP (internal; decisions B10, agents.md §2.7).

Deployed with ``roles/run.invoker`` granted to operators only: IAM at Google's front end is the
real gate, and it verifies the caller's identity token before a request reaches this code. The
code refuses anything without an ``Authorization`` header as a second line, and records the
operator from the identity headers Google adds (or ``X-Operator``) in the audit log.

``POST`` JSON ``{"action": "approve", "phone": "+1...", "as": "concierge"|"innovator"}``,
``{"action": "reject"|"hold", "phone": ...}`` or ``{"action": "pending"}``; ``GET`` lists the
pending users. Answers 200 with the decision, 400 bad input, 401 no credentials, 404 unknown
phone, 409 conflicting state, 413 oversized.

The entry point lives in ``shared.entrypoints.admin``; this file only binds it.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response

from shared.bootstrap import http_handler

_handle = http_handler("admin")


@functions_framework.http
def admin(request: Request) -> Response:
    return _handle(request)
