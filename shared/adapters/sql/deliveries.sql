-- processed_deliveries: the consumers' idempotency marks for Pub/Sub deliveries (consumer contract).

-- name: deliveries_mark
-- Mark a delivery handled by a consumer inside the handler's transaction; no row back = done before.
INSERT INTO processed_deliveries (consumer, delivery_key, kind, outcome, message_id)
VALUES (%(consumer)s, %(delivery_key)s, %(kind)s, %(outcome)s, %(message_id)s)
ON CONFLICT (consumer, delivery_key) DO NOTHING
RETURNING delivery_key;
