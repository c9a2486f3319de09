"""agent_summarizer: rolling conversation summaries for every member (platform.md §6.4, decisions B12).

Handles the ``create_conversation_summary`` task whatever the member's point of contact. The
handler is the registry's (``shared.registry``); decoding, idempotency, retries and dead letters
are the consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_summarizer")


@functions_framework.cloud_event
def agent_summarizer(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
