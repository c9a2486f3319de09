-- name: insert_event
-- Append one event to the outbox (the events table); the webhook and the sweep deliver it.
INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, metadata, created_by)
VALUES (%(event_type)s, %(aggregate_type)s, %(aggregate_id)s, %(payload)s::jsonb, %(metadata)s::jsonb,
        %(created_by)s)
RETURNING id;
