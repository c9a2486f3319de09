"""agent_bouncer: the Bouncer's Pub/Sub consumer (agents.md §2; topic ``agent-bouncer``).

Events ``message.received`` and ``user.email_verified`` run one Bouncer turn; the task
``re_engagement_check`` runs a follow-up (handlers named in ``shared.registry``). Decoding,
idempotency, retries and dead letters are the consumer contract's
(``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_bouncer")


@functions_framework.cloud_event
def agent_bouncer(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
