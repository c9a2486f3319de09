"""agent_bouncer: the Bouncer's Pub/Sub consumer (agents.md §2; topic ``agent-bouncer``).

Events ``message.received`` and ``user.email_verified`` run one Bouncer turn; tasks
``re_engagement_check`` and ``create_conversation_summary`` run their use cases. Decoding,
idempotency, retries and dead letters are the consumer contract's
(``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.service_layer.bouncer import handle_delivery
from shared.service_layer.consumer import consume


@functions_framework.cloud_event
def agent_bouncer(cloud_event: CloudEvent) -> None:
    consume(cloud_event, "agent_bouncer", handle_delivery)
