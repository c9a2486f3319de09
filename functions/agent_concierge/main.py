"""agent_concierge: the Concierge's Pub/Sub consumer (agents.md §4; topic ``agent-concierge``).

Events ``message.received`` and ``user.email_verified`` of a verified member run one Concierge
turn (handlers named in ``shared.registry``). Decoding, idempotency, retries and dead letters are
the consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_concierge")


@functions_framework.cloud_event
def agent_concierge(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
