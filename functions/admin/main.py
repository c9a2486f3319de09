"""admin: operator approval over HTTP (internal; decisions B10, agents.md §2.7).

Deployed with ``roles/run.invoker`` granted to operators only: IAM at Google's front end is the
real gate, and it verifies the caller's identity token before a request reaches this code. The
code refuses anything without an ``Authorization`` header as a second line, and records the
operator from the identity headers Google adds (or ``X-Operator``) in the audit log.

``POST`` JSON ``{"action": "approve", "phone": "+1...", "as": "concierge"|"innovator"}``,
``{"action": "reject"|"hold", "phone": ...}`` or ``{"action": "pending"}``; ``GET`` lists the
pending users. Answers 200 with the decision, 400 bad input, 401 no credentials, 404 unknown
phone, 409 conflicting state, 413 oversized.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import functions_framework

from shared.logs import get_logger
from shared.service_layer import approval

log = get_logger(__name__)

MAX_BODY_BYTES = 4096


def _answer(status: int, **body: Any) -> tuple[str, int, dict[str, str]]:
    return json.dumps(body, default=str), status, {"Content-Type": "application/json"}


def _operator(request: flask.Request) -> str:
    for header in ("X-Goog-Authenticated-User-Email", "X-Operator"):
        value = request.headers.get(header)
        if value:
            return value.split(":")[-1][:200]
    return "unknown-operator"


@functions_framework.http
def admin(request: flask.Request) -> tuple[str, int, dict[str, str]]:  # noqa: PLR0911, PLR0912
    if not (request.headers.get("Authorization") or "").strip():
        return _answer(401, error="missing Authorization (an identity token of an operator)")
    if request.method == "GET":
        return _answer(200, pending=approval.pending())
    if request.method != "POST":
        return _answer(405, error="method not allowed")
    if (request.content_length or 0) > MAX_BODY_BYTES or len(request.get_data(cache=True)) > MAX_BODY_BYTES:
        return _answer(413, error="body too large")
    try:
        body = json.loads(request.get_data(cache=True).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return _answer(400, error="body must be JSON")
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        return _answer(400, error='body must be an object with an "action"')
    action = body["action"]
    operator = _operator(request)
    try:
        if action == "pending":
            return _answer(200, pending=approval.pending())
        phone = body.get("phone")
        if not isinstance(phone, str) or not phone.strip():
            return _answer(400, error='"phone" is required')
        if action == "approve":
            decision = approval.approve(phone, str(body.get("as", "concierge")), operator=operator)
        elif action == "reject":
            decision = approval.reject(phone, operator=operator)
        elif action == "hold":
            decision = approval.hold(phone, operator=operator)
        else:
            return _answer(400, error=f"unknown action {action!r}")
    except approval.ApprovalError as exc:
        return _answer(exc.status, error=str(exc))
    return _answer(200, **decision.as_dict())
