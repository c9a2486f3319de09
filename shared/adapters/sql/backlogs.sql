-- Backlogs the sweeps report on every tick (platform.md §7.6): depth and the age of the oldest waiting item.

-- name: backlogs_report
-- Depth and oldest age (seconds, 0 when empty) of every backlog the alerts watch.
SELECT 'events' AS backlog, count(*) AS depth,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float AS oldest_age_seconds
FROM events WHERE NOT processed
UNION ALL
SELECT 'agent_tasks', count(*),
       coalesce(extract(epoch FROM now() - min(coalesce(lease_expires_at, scheduled_for))), 0)::float
FROM agent_tasks
WHERE (status = 'pending' AND scheduled_for <= now())
   OR (status = 'processing' AND lease_expires_at < now())
UNION ALL
SELECT 'message_queue', count(*), coalesce(extract(epoch FROM now() - min(scheduled_for)), 0)::float
FROM message_queue WHERE status = 'queued' AND scheduled_for <= now()
UNION ALL
SELECT 'sms_sending', count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float
FROM messages WHERE direction = 'outbound' AND status = 'sending'
UNION ALL
SELECT 'sms_pending', count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float
FROM messages WHERE direction = 'outbound' AND status = 'pending';
