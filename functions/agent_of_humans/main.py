"""agent_of_humans: community questions to human experts (agents.md §7, §8; decisions B18).

Handles ``community.request_needed`` (de-duplicate, match at most 5 experts under the load cap,
route a task to each expert's Account Manager) and ``community.response_received`` (route the
answer to its requesters, score it, pay credits through the ledger). The handlers are the
registry's (``shared.registry``); decoding, idempotency, retries and dead letters are the
consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_of_humans")


@functions_framework.cloud_event
def agent_of_humans(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
