"""The shape every internal HTTP function shares (database-webhook targets and scheduler jobs).

Read the body (405/413/415), authenticate it (HMAC from pg_net or the relay, or the
scheduler's OIDC token: 401), parse it (any ``ValueError``: 400), then run the use case.
A rejected call is logged and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Request, Response, jsonify

from shared.adapters.request_auth import RequestRejected, Unauthorized, authenticate_internal, read_body
from shared.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


def reject(function: str, status: int, reason: str) -> Response:
    log.warning(f"{function} call rejected", extra={"status": status, "reason": reason})
    response = jsonify({"error": reason})
    response.status_code = status
    return response


def handle_internal_call(
    request: Request,
    function: str,
    parse: Callable[[bytes], T],
    run: Callable[[T], dict[str, Any] | Response],
) -> Response:
    try:
        body = read_body(request, content_type="application/json")
        authenticate_internal(request.headers, body)
        parsed = parse(body)
    except RequestRejected as exc:
        return reject(function, exc.status, exc.reason)
    except Unauthorized as exc:
        return reject(function, 401, str(exc))
    except ValueError as exc:
        return reject(function, 400, str(exc))
    result = run(parsed)
    return result if isinstance(result, Response) else jsonify(result)
