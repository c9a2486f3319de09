-- Dead letters (decisions B6): recording, listing and replaying event_dead_letters.

-- name: record_dead_letter
-- Record one dead letter; a Pub/Sub message id already recorded makes this a no-op.
INSERT INTO event_dead_letters (event_id, event_type, payload, error_message, retry_count,
                                original_created_at, source, topic, consumer, source_message_id)
VALUES (%(event_id)s, %(event_type)s, %(payload)s::jsonb, %(error_message)s, %(retry_count)s,
        coalesce(%(original_created_at)s::timestamptz, now()), %(source)s, %(topic)s, %(consumer)s,
        %(source_message_id)s)
ON CONFLICT (source_message_id) DO NOTHING
RETURNING id;

-- name: list_dead_letters
-- Newest dead letters first; replayed ones only when asked.
SELECT id, event_id, event_type, error_message, retry_count, source, topic, consumer, created_at,
       original_created_at, replayed_at, replay_count
  FROM event_dead_letters
 WHERE %(include_replayed)s OR replayed_at IS NULL
 ORDER BY created_at DESC
 LIMIT %(limit)s;

-- name: lock_dead_letter
-- One dead letter with what is left of its original event, locked for replay.
SELECT d.id, d.event_id, d.event_type, d.payload, d.replayed_at, d.replay_count, d.source,
       e.aggregate_type, e.aggregate_id, e.metadata AS event_metadata, e.created_by AS event_created_by
  FROM event_dead_letters d
  LEFT JOIN events e ON e.id = d.event_id
 WHERE d.id = %(id)s
   FOR UPDATE OF d;

-- name: lock_unreplayed_dead_letters
-- Dead letters never replayed, oldest first, locked for replay (SKIP LOCKED: two operators never clash).
SELECT d.id
  FROM event_dead_letters d
 WHERE d.replayed_at IS NULL
 ORDER BY d.created_at
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- name: requeue_failed_task
-- Replay of a task dead letter: the failed task becomes pending again, due now, with fresh retries.
UPDATE agent_tasks
   SET status = 'pending',
       scheduled_for = now(),
       retry_count = 0,
       claim_token = NULL,
       lease_expires_at = NULL,
       completed_at = NULL,
       result_json = NULL
 WHERE id = %(task_id)s
   AND status = 'failed';

-- name: mark_dead_letter_replayed
-- Stamp a dead letter as replayed once more.
UPDATE event_dead_letters
   SET replayed_at = now(),
       replay_count = replay_count + 1
 WHERE id = %(id)s;

-- name: dead_letter_counts
-- Dead letters in total, not yet replayed, and per source.
SELECT count(*) AS total,
       count(*) FILTER (WHERE replayed_at IS NULL) AS unreplayed,
       count(*) FILTER (WHERE replayed_at IS NULL AND source = 'dispatcher') AS dispatcher,
       count(*) FILTER (WHERE replayed_at IS NULL AND source = 'pubsub') AS pubsub,
       count(*) FILTER (WHERE replayed_at IS NULL AND source = 'consumer') AS consumer,
       min(created_at) FILTER (WHERE replayed_at IS NULL) AS oldest
  FROM event_dead_letters;

-- name: event_backlog
-- Unprocessed events: how many, how many due now, and the age of the oldest.
SELECT count(*) AS unprocessed,
       count(*) FILTER (WHERE next_attempt_at <= now()) AS due,
       count(*) FILTER (WHERE attempts > 0) AS retrying,
       min(created_at) AS oldest_created_at,
       extract(epoch FROM now() - min(created_at)) AS oldest_age_seconds
  FROM events
 WHERE NOT processed;

-- name: message_queue_depths
-- message_queue rows per status (the orchestrator's backlog), and how many queued ones are due.
SELECT status, count(*) AS n, count(*) FILTER (WHERE scheduled_for <= now()) AS due
  FROM message_queue
 GROUP BY status
 ORDER BY status;
