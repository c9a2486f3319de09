"""A Pub/Sub-triggered function for the consumer-contract tests: it consumes as agent_bouncer.

The handler writes one agent_actions_log row per run (so tests can count executions), then
behaves as the delivery asks: ``ok`` (returns a result), ``permanent`` or ``transient``.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from shared.adapters.repositories.actions import ActionRecord
from shared.adapters.unit_of_work import PostgresUnitOfWork
from shared.service_layer.consumer import Delivery, PermanentError, consume


def handle(delivery: Delivery, uow: PostgresUnitOfWork) -> dict[str, Any] | None:
    source = delivery.data.get("payload") or delivery.data.get("context_json") or {}
    behaviour = source.get("behaviour", "ok")
    uow.actions.record(
        ActionRecord(
            agent_type="probe",
            action_type="handled",
            context_id=delivery.id,
            input_data={"message_id": delivery.message_id, "kind": delivery.kind},
        )
    )
    if behaviour == "permanent":
        raise PermanentError("the probe was told this can never work")
    if behaviour == "transient":
        raise RuntimeError("the probe was told to fail for now")
    return {"handled_by": "probe", "message_id": delivery.message_id}


@functions_framework.cloud_event
def consumer_probe(cloud_event: CloudEvent) -> None:
    consume(cloud_event, "agent_bouncer", handle)
