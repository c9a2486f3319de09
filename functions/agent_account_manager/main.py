"""agent_account_manager: each member's ranked priorities (agents.md §6, §13; decisions B9).

Handles the Account Manager's events and tasks (the review task the 6-hourly job schedules,
the community tasks, the intro-flow and research events, ``user.verified``). The handlers are
the registry's (``shared.registry``); decoding, idempotency, retries and dead letters are the
consumer contract's (``shared.service_layer.consumer``).
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("agent_account_manager")


@functions_framework.cloud_event
def agent_account_manager(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
