-- bench.load (bench/load.py): its connection sampler and the invariants it checks over the whole database.

-- name: bench_load_client_connections
-- Client backends connected right now (the sampler subtracts itself).
SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend';

-- name: bench_load_backlog
-- What is still due: unprocessed events, unsent SMS, due queue rows, due or running tasks.
SELECT (SELECT count(*) FROM events WHERE NOT processed) AS events,
       (SELECT count(*) FROM messages WHERE direction = 'outbound' AND status IN ('pending', 'sending')) AS sms,
       (SELECT count(*) FROM message_queue WHERE status IN ('approved', 'processing')
          OR (status = 'queued' AND scheduled_for <= now())) AS queue,
       (SELECT count(*) FROM agent_tasks WHERE status IN ('processing')
          OR (status = 'pending' AND scheduled_for <= now())) AS tasks;

-- name: bench_load_inbound_texts
-- Every text a member sent, as the platform received it, with the turn that answered it.
SELECT u.phone_number, m.created_at, m.answered_by_turn_id
  FROM messages m JOIN users u ON u.id = m.user_id
 WHERE m.direction = 'inbound' AND m.role = 'user'
 ORDER BY u.phone_number, m.created_at;

-- name: bench_load_reply_turns
-- Every turn that answered texts, with how many reply SMS rows it wrote.
SELECT t.id, u.phone_number, cardinality(t.message_ids) AS replies
  FROM agent_turns t JOIN users u ON u.id = t.user_id
 WHERE EXISTS (SELECT 1 FROM messages m WHERE m.answered_by_turn_id = t.id);

-- name: bench_load_proactive_deliveries
-- Every queued (proactive) message that was delivered, with its member's time zone.
SELECT u.phone_number, u.timezone, m.created_at
  FROM message_queue q
  JOIN messages m ON m.id = q.delivered_message_id
  JOIN users u ON u.id = q.user_id
 ORDER BY m.created_at;

-- name: bench_load_duplicate_sids
-- A Twilio SID stored on two rows.
SELECT twilio_message_sid, count(*) AS n FROM messages
 WHERE twilio_message_sid IS NOT NULL GROUP BY 1 HAVING count(*) > 1;

-- name: bench_load_outbound_counts
-- How many outbound rows each (member, text) has: the most SMS of that text the stand-in may show.
SELECT u.phone_number, m.content, count(*) AS n
  FROM messages m JOIN users u ON u.id = m.user_id
 WHERE m.direction = 'outbound' GROUP BY 1, 2;

-- name: bench_load_unprocessed_events
-- Events no consumer finished.
SELECT id, event_type FROM events WHERE NOT processed;

-- name: bench_load_dead_letters
-- Every dead letter.
SELECT event_type, consumer, error_message FROM event_dead_letters;

-- name: bench_load_member_timeline
-- One member's story, oldest first: texts in and out, the events about them, their turns and tasks
-- (printed for a member whose burst went unanswered, before the stack is stopped).
WITH u AS (SELECT id FROM users WHERE phone_number = %(phone)s)
SELECT * FROM (
  SELECT m.created_at AS at, 'message ' || m.direction AS kind,
         concat_ws(' ', m.status, 'answered_by=' || m.answered_by_turn_id::text, 'sent=' || m.sent_at::time::text,
                   'attempts=' || m.attempts::text, left(m.content, 40)) AS detail
    FROM messages m WHERE m.user_id = (SELECT id FROM u)
  UNION ALL
  SELECT e.created_at, 'event ' || e.event_type,
         concat_ws(' ', 'processed=' || e.processed::text, 'at=' || e.processed_at::text,
                   'attempts=' || e.attempts::text, left(e.last_error, 120))
    FROM events e
   WHERE e.aggregate_id = (SELECT id FROM u) OR e.payload ->> 'user_id' = (SELECT id FROM u)::text
  UNION ALL
  SELECT t.created_at, 'turn ' || t.agent_type,
         concat_ws(' ', t.status, t.path, t.delivery, 'latency_ms=' || t.latency_ms::text, left(t.error, 120))
    FROM agent_turns t WHERE t.user_id = (SELECT id FROM u)
  UNION ALL
  SELECT k.created_at, 'task ' || k.task_type,
         concat_ws(' ', k.status, 'scheduled=' || k.scheduled_for::text, 'retries=' || k.retry_count::text)
    FROM agent_tasks k WHERE k.user_id = (SELECT id FROM u)
) s ORDER BY at;
