"""event_dispatcher: publishes the events outbox to Pub/Sub (internal calls only).

Called by the database webhook after events are inserted (``{"table": "events", "type":
"INSERT"}``, HMAC-signed) and by Cloud Scheduler every minute as the safety sweep
(``{"sweep": true}``, OIDC token). Both drain due events the same way.
"""

from __future__ import annotations

import functions_framework
from flask import Request, Response, jsonify

from shared.adapters.pubsub import get_publisher
from shared.adapters.request_auth import RequestRejected, Unauthorized, authenticate_internal, read_body
from shared.logs import get_logger
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.triggers import InvalidTrigger, parse_trigger

log = get_logger(__name__)


def _reject(status: int, reason: str) -> Response:
    log.warning("event_dispatcher call rejected", extra={"status": status, "reason": reason})
    response = jsonify({"error": reason})
    response.status_code = status
    return response


@functions_framework.http
def event_dispatcher(request: Request) -> Response:
    try:
        body = read_body(request, content_type="application/json")
        authenticate_internal(request.headers, body)
        trigger = parse_trigger(body, "events")
    except RequestRejected as exc:
        return _reject(exc.status, exc.reason)
    except Unauthorized as exc:
        return _reject(401, str(exc))
    except InvalidTrigger as exc:
        return _reject(400, str(exc))
    report = dispatch_events(get_publisher())
    return jsonify({"trigger": trigger, **report.as_dict()})
