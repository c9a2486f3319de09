"""agent_social_butterfly: mutual LinkedIn connections of a prospect (agents.md §11, issue 12), through
Apify; disabled with a log line without APIFY_TOKEN. The handler is the registry's
(``shared.registry`` -> ``shared.service_layer.social_butterfly``); decoding, idempotency, retries and
dead letters are the consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_social_butterfly")


@functions_framework.cloud_event
def agent_social_butterfly(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
