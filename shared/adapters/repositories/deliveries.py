"""processed_deliveries: the consumers' idempotency marks (shared/service_layer/consumer.py)."""

from __future__ import annotations

from shared.adapters.postgres import Sql


class DeliveryRepository:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def mark(
        self, *, consumer: str, delivery_key: str, kind: str, outcome: str, message_id: str | None
    ) -> bool:
        """Mark a delivery handled by ``consumer``; False when it was marked before."""
        row = self._sql.one(
            "deliveries_mark",
            consumer=consumer,
            delivery_key=delivery_key,
            kind=kind,
            outcome=outcome,
            message_id=message_id,
        )
        return row is not None
