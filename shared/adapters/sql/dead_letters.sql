-- event_dead_letters (decisions B6): recording, listing and replaying what could not be delivered.

-- name: dead_letters_insert
-- Record one dead letter; a source message id already recorded makes this a no-op.
INSERT INTO event_dead_letters (event_id, event_type, payload, error_message, retry_count,
                                original_created_at, source, topic, consumer, source_message_id)
VALUES (%(event_id)s, %(event_type)s, %(payload)s::jsonb, %(error_message)s, %(retry_count)s,
        coalesce(%(original_created_at)s::timestamptz, now()), %(source)s, %(topic)s, %(consumer)s,
        %(source_message_id)s)
ON CONFLICT (source_message_id) DO NOTHING
RETURNING id;

-- name: dead_letters_list
-- Newest dead letters first; replayed ones only when asked.
SELECT id, event_id, event_type, error_message, retry_count, source, topic, consumer, created_at,
       original_created_at, replayed_at, replay_count
  FROM event_dead_letters
 WHERE %(include_replayed)s OR replayed_at IS NULL
 ORDER BY created_at DESC
 LIMIT %(limit)s;

-- name: dead_letters_lock
-- One dead letter with what is left of its original event, locked for replay.
SELECT d.id, d.event_id, d.event_type, d.payload, d.replayed_at, d.replay_count, d.source,
       e.aggregate_type, e.aggregate_id, e.metadata AS event_metadata, e.created_by AS event_created_by
  FROM event_dead_letters d
  LEFT JOIN events e ON e.id = d.event_id
 WHERE d.id = %(id)s
   FOR UPDATE OF d;

-- name: dead_letters_lock_unreplayed
-- Dead letters never replayed, oldest first, locked for replay (SKIP LOCKED: two operators never clash).
SELECT d.id
  FROM event_dead_letters d
 WHERE d.replayed_at IS NULL
 ORDER BY d.created_at
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- name: dead_letters_mark_replayed
-- Stamp a dead letter as replayed once more.
UPDATE event_dead_letters
   SET replayed_at = now(),
       replay_count = replay_count + 1
 WHERE id = %(id)s;

-- name: dead_letters_counts
-- Dead letters in total, not yet replayed, and per source.
SELECT count(*) AS total,
       count(*) FILTER (WHERE replayed_at IS NULL) AS unreplayed,
       count(*) FILTER (WHERE replayed_at IS NULL AND source = 'dispatcher') AS dispatcher,
       count(*) FILTER (WHERE replayed_at IS NULL AND source = 'pubsub') AS pubsub,
       count(*) FILTER (WHERE replayed_at IS NULL AND source = 'consumer') AS consumer,
       min(created_at) FILTER (WHERE replayed_at IS NULL) AS oldest
  FROM event_dead_letters;
