"""agent_innovator: the Innovator's Pub/Sub consumer (agents.md §5; topic ``agent-innovator``).

Events ``message.received`` and ``user.email_verified`` of an innovator member run one Innovator
turn (handlers named in ``shared.registry``). Decoding, idempotency, retries and dead letters are
the consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_innovator")


@functions_framework.cloud_event
def agent_innovator(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
