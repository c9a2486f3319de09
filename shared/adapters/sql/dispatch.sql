-- Event dispatcher (shared/service_layer/dispatch_events.py): the outbox -> Pub/Sub.

-- name: claim_due_events
-- Lock a batch of unprocessed, due events (oldest first) with their user's routing facts; held until commit.
SELECT e.id, e.event_type, e.aggregate_type, e.aggregate_id, e.payload, e.metadata, e.attempts,
       e.created_at, e.created_by,
       u.id AS user_id, u.verified AS user_verified, u.poc_agent_type AS user_poc_agent_type
  FROM events e
  LEFT JOIN users u ON u.id = CASE
         WHEN e.aggregate_type = 'user' THEN e.aggregate_id
         WHEN e.payload ->> 'user_id' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           THEN (e.payload ->> 'user_id')::uuid
         WHEN e.payload ->> 'userId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           THEN (e.payload ->> 'userId')::uuid
       END
 WHERE NOT e.processed
   AND e.next_attempt_at <= now()
 ORDER BY e.created_at, e.id
 LIMIT %(limit)s
   FOR UPDATE OF e SKIP LOCKED;

-- name: mark_events_published
-- Mark published events processed, recording topic and Pub/Sub message id in metadata.
UPDATE events e
   SET processed = true,
       processed_at = now(),
       last_error = NULL,
       metadata = e.metadata || jsonb_build_object('dispatch', jsonb_build_object(
         'outcome', 'published', 'topic', t.topic, 'message_id', t.message_id, 'at', now()))
  FROM unnest(%(ids)s::uuid[], %(topics)s::text[], %(message_ids)s::text[]) AS t(id, topic, message_id)
 WHERE e.id = t.id
   AND NOT e.processed;

-- name: mark_events_record_only
-- Deliberately mark record-only events processed (no consumer by design); metadata says why.
UPDATE events e
   SET processed = true,
       processed_at = now(),
       metadata = e.metadata || jsonb_build_object('dispatch', jsonb_build_object(
         'outcome', 'record_only', 'reason', %(reason)s::text, 'at', now()))
 WHERE e.id = ANY(%(ids)s::uuid[])
   AND NOT e.processed;

-- name: reschedule_events
-- Record failed publishes: attempts, last error and the backoff time of the next attempt.
UPDATE events e
   SET attempts = t.attempts,
       last_error = t.error,
       next_attempt_at = t.next_attempt_at
  FROM unnest(%(ids)s::uuid[], %(attempts)s::int[], %(errors)s::text[], %(next_attempt_ats)s::timestamptz[])
       AS t(id, attempts, error, next_attempt_at)
 WHERE e.id = t.id
   AND NOT e.processed;

-- name: dead_letter_events
-- Copy events to event_dead_letters (source 'dispatcher') and mark them processed, saying so in metadata.
WITH t AS (
  SELECT *
    FROM unnest(%(ids)s::uuid[], %(attempts)s::int[], %(errors)s::text[], %(topics)s::text[],
                %(consumers)s::text[]) AS t(id, attempts, error, topic, consumer)
), upd AS (
  UPDATE events e
     SET processed = true,
         processed_at = now(),
         attempts = t.attempts,
         last_error = t.error,
         metadata = e.metadata || jsonb_build_object('dispatch', jsonb_build_object(
           'outcome', 'dead_lettered', 'error', t.error, 'at', now()))
    FROM t
   WHERE e.id = t.id
     AND NOT e.processed
  RETURNING e.id, e.event_type, e.payload, e.created_at, t.attempts, t.error, t.topic, t.consumer
)
INSERT INTO event_dead_letters (event_id, event_type, payload, error_message, retry_count,
                                original_created_at, source, topic, consumer)
SELECT upd.id, upd.event_type, upd.payload, upd.error, upd.attempts, upd.created_at, 'dispatcher',
       upd.topic, upd.consumer
  FROM upd
RETURNING id, event_id;

-- name: count_due_events
-- Unprocessed events that are due now (the dispatcher's backlog).
SELECT count(*) AS n FROM events WHERE NOT processed AND next_attempt_at <= now();
