"""dead_letter_recorder: stores what Pub/Sub gave up on (decisions B6).

Push subscriptions on every ``<topic>-dead-letter`` topic deliver here; each message is
recorded once in ``event_dead_letters`` (source ``pubsub``), with the source subscription and
delivery count Pub/Sub attaches, ready for ``python -m tools.ops dead-letters replay``.
"""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from shared.bootstrap import event_handler

_handle = event_handler("dead_letter_recorder")


@functions_framework.cloud_event
def dead_letter_recorder(cloud_event: CloudEvent) -> None:
    _handle(cloud_event)
