-- Retention (platform §6.6): archive, then delete, one small batch per statement. Each batch
-- takes its rows with FOR UPDATE SKIP LOCKED (a row someone is working on waits for a later run)
-- and runs in its own short transaction. Every statement returns how many rows it removed.

-- name: retention_events
-- Processed events older than the cutoff, never an unprocessed one, nor one an unreplayed dead letter still names.
WITH doomed AS (
  SELECT e.id FROM events e
  WHERE e.processed AND e.processed_at < %(cutoff)s
    AND NOT EXISTS (SELECT 1 FROM event_dead_letters d WHERE d.event_id = e.id AND d.replayed_at IS NULL)
  ORDER BY e.processed_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM events e USING doomed WHERE e.id = doomed.id AND e.processed RETURNING e.*
), archived AS (
  INSERT INTO retention_archive (source_table, row_id, row_data, row_created_at)
  SELECT 'events', gone.id, to_jsonb(gone), gone.created_at FROM gone
  RETURNING 1
)
SELECT count(*) AS n FROM archived;

-- name: retention_tasks
-- Completed and failed tasks finished before the cutoff; never pending or processing, nor a failed task an unreplayed dead letter would requeue.
WITH doomed AS (
  SELECT t.id FROM agent_tasks t
  WHERE t.status IN ('completed', 'failed') AND t.completed_at < %(cutoff)s
    AND NOT EXISTS (SELECT 1 FROM event_dead_letters d WHERE d.event_id = t.id AND d.replayed_at IS NULL)
  ORDER BY t.completed_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM agent_tasks t USING doomed
  WHERE t.id = doomed.id AND t.status IN ('completed', 'failed') RETURNING t.*
), archived AS (
  INSERT INTO retention_archive (source_table, row_id, row_data, row_created_at)
  SELECT 'agent_tasks', gone.id, to_jsonb(gone), gone.created_at FROM gone
  RETURNING 1
)
SELECT count(*) AS n FROM archived;

-- name: retention_dead_letters
-- Dead letters replayed before the cutoff; an unreplayed one is never removed.
WITH doomed AS (
  SELECT d.id FROM event_dead_letters d
  WHERE d.replayed_at IS NOT NULL AND d.replayed_at < %(cutoff)s
  ORDER BY d.replayed_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM event_dead_letters d USING doomed
  WHERE d.id = doomed.id AND d.replayed_at IS NOT NULL RETURNING d.*
), archived AS (
  INSERT INTO retention_archive (source_table, row_id, row_data, row_created_at)
  SELECT 'event_dead_letters', gone.id, to_jsonb(gone), gone.created_at FROM gone
  RETURNING 1
)
SELECT count(*) AS n FROM archived;

-- name: retention_actions_log
-- Agent action log rows (LLM calls, tool calls) older than the cutoff.
WITH doomed AS (
  SELECT a.id FROM agent_actions_log a
  WHERE a.created_at < %(cutoff)s
  ORDER BY a.created_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM agent_actions_log a USING doomed WHERE a.id = doomed.id RETURNING a.*
), archived AS (
  INSERT INTO retention_archive (source_table, row_id, row_data, row_created_at)
  SELECT 'agent_actions_log', gone.id, to_jsonb(gone), gone.created_at FROM gone
  RETURNING 1
)
SELECT count(*) AS n FROM archived;

-- name: retention_processed_deliveries
-- Idempotency marks older than the Pub/Sub retention window (no redelivery can still arrive): deleted.
WITH doomed AS (
  SELECT consumer, delivery_key FROM processed_deliveries
  WHERE processed_at < %(cutoff)s
  ORDER BY processed_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM processed_deliveries p USING doomed
  WHERE p.consumer = doomed.consumer AND p.delivery_key = doomed.delivery_key
  RETURNING 1
)
SELECT count(*) AS n FROM gone;

-- name: retention_messages
-- Message history older than the cutoff, purged (platform §6.6); never an outbound row still pending or sending.
WITH doomed AS (
  SELECT m.id FROM messages m
  WHERE m.created_at < %(cutoff)s
    AND NOT (m.direction = 'outbound' AND m.status IN ('pending', 'sending'))
  ORDER BY m.created_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM messages m USING doomed WHERE m.id = doomed.id RETURNING 1
)
SELECT count(*) AS n FROM gone;
