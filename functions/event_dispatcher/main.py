"""event_dispatcher: publishes the events outbox to Pub/Sub (internal calls only).

Called by the database webhook after events are inserted (``{"table": "events", "type":
"INSERT"}``, HMAC-signed) and by Cloud Scheduler every minute as the safety sweep
(``{"sweep": true}``, OIDC token). Both drain due events the same way.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from shared.adapters.internal_http import handle_internal_call
from shared.adapters.pubsub import get_publisher
from shared.service_layer.dispatch_events import dispatch_events
from shared.service_layer.triggers import parse_trigger


def _dispatch(trigger: str) -> dict[str, Any]:
    return {"trigger": trigger, **dispatch_events(get_publisher()).as_dict()}


@functions_framework.http
def event_dispatcher(request: Request) -> Response:
    return handle_internal_call(request, "event_dispatcher", lambda b: parse_trigger(b, "events"), _dispatch)
