-- The events outbox (decisions A3, A4, B6): appended in units of work, drained by the dispatcher.

-- name: events_insert
-- Append one event to the outbox (the events table); the webhook and the sweep deliver it.
INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, metadata, created_by)
VALUES (%(event_type)s, %(aggregate_type)s, %(aggregate_id)s, %(payload)s::jsonb, %(metadata)s::jsonb,
        %(created_by)s)
RETURNING id;

-- name: events_claim_due
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

-- name: events_mark_published
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

-- name: events_mark_record_only
-- Deliberately mark record-only events processed (no consumer by design); metadata says why.
UPDATE events e
   SET processed = true,
       processed_at = now(),
       metadata = e.metadata || jsonb_build_object('dispatch', jsonb_build_object(
         'outcome', 'record_only', 'reason', %(reason)s::text, 'at', now()))
 WHERE e.id = ANY(%(ids)s::uuid[])
   AND NOT e.processed;

-- name: events_reschedule
-- Record failed publishes: attempts, last error and the backoff time of the next attempt.
UPDATE events e
   SET attempts = t.attempts,
       last_error = t.error,
       next_attempt_at = t.next_attempt_at
  FROM unnest(%(ids)s::uuid[], %(attempts)s::int[], %(errors)s::text[], %(next_attempt_ats)s::timestamptz[])
       AS t(id, attempts, error, next_attempt_at)
 WHERE e.id = t.id
   AND NOT e.processed;

-- name: events_mark_dead_lettered
-- Give up on events: processed, with attempts, error and outcome in metadata; returns what their dead letters need.
UPDATE events e
   SET processed = true,
       processed_at = now(),
       attempts = t.attempts,
       last_error = t.error,
       metadata = e.metadata || jsonb_build_object('dispatch', jsonb_build_object(
         'outcome', 'dead_lettered', 'error', t.error, 'at', now()))
  FROM unnest(%(ids)s::uuid[], %(attempts)s::int[], %(errors)s::text[]) AS t(id, attempts, error)
 WHERE e.id = t.id
   AND NOT e.processed
RETURNING e.id, e.event_type, e.payload, e.created_at, t.attempts, t.error;

-- name: events_backlog
-- Unprocessed events: how many, how many due now, and the age of the oldest.
SELECT count(*) AS unprocessed,
       count(*) FILTER (WHERE next_attempt_at <= now()) AS due,
       count(*) FILTER (WHERE attempts > 0) AS retrying,
       min(created_at) AS oldest_created_at,
       extract(epoch FROM now() - min(created_at)) AS oldest_age_seconds
  FROM events
 WHERE NOT processed;

-- name: events_for_member_since
-- The member's events after the watermark, oldest first; the Account Manager's own events are not news to it.
SELECT id, event_type, payload, created_at
FROM events
WHERE aggregate_type = 'user'
  AND aggregate_id = %(user_id)s
  AND created_at > coalesce(%(since)s::timestamptz, '-infinity'::timestamptz)
  AND created_by IS DISTINCT FROM %(own)s
ORDER BY created_at, id
LIMIT %(limit)s;
