"""agent_intro: the Intro agent (agents.md §10, issue 12): talking points on intro.opportunity_created,
contact exchange once both sides accepted, and the +7-day ``intro_followup_check``.

The handlers are the registry's (``shared.registry`` -> ``shared.service_layer.intros``); decoding,
idempotency, retries and dead letters are the consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_intro")


@functions_framework.cloud_event
def agent_intro(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
