-- Operational helpers from the seed document, rebuilt for this project.
--
-- Deliberately NOT created (decisions A2: Cloud Scheduler drives periodic work, pg_cron is not
-- used): the pg_cron jobs, process_tasks_batch(), process_outbound_messages() (competing
-- consumers of agent_tasks / message_queue, platform §1.10) and the cron_job_status view. The
-- task sweeper and message orchestrator functions do that work. notify_send_sms() and its
-- 'queued_for_send' status are replaced by yp_webhook('sms_sender', ...) in the core migration.

-- Count one budgeted send on the user's LOCAL date (the caller computes p_date in the user's
-- time zone). An upsert: creates the day's row with the column defaults, else adds one.
CREATE OR REPLACE FUNCTION public.increment_message_budget(p_user_id uuid, p_date date)
RETURNS public.user_message_budget
LANGUAGE sql
SET search_path = pg_catalog, public, pg_temp
AS $$
  INSERT INTO public.user_message_budget AS b (user_id, date, messages_sent, last_message_at)
  VALUES (p_user_id, p_date, 1, now())
  ON CONFLICT (user_id, date) DO UPDATE
    SET messages_sent = b.messages_sent + 1,
        last_message_at = excluded.last_message_at
  RETURNING b.*;
$$;

-- Monitoring: due pending tasks per agent and task type, and stuck claims (expired leases).
CREATE OR REPLACE FUNCTION public.get_pending_tasks_count()
RETURNS TABLE (
  agent_type varchar,
  task_type varchar,
  due_count bigint,
  future_count bigint,
  expired_leases bigint,
  oldest_due timestamptz
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT t.agent_type,
         t.task_type,
         count(*) FILTER (WHERE t.status = 'pending' AND t.scheduled_for <= now()),
         count(*) FILTER (WHERE t.status = 'pending' AND t.scheduled_for > now()),
         count(*) FILTER (WHERE t.status = 'processing' AND t.lease_expires_at < now()),
         min(t.scheduled_for) FILTER (WHERE t.status = 'pending' AND t.scheduled_for <= now())
    FROM public.agent_tasks t
   WHERE t.status IN ('pending', 'processing')
   GROUP BY t.agent_type, t.task_type
   ORDER BY t.agent_type, t.task_type;
$$;

-- Monitoring: queued proactive messages per priority (urgent first, decisions B3).
CREATE OR REPLACE FUNCTION public.get_queued_messages_count()
RETURNS TABLE (
  priority varchar,
  due_count bigint,
  future_count bigint,
  oldest_due timestamptz
)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT q.priority,
         count(*) FILTER (WHERE q.scheduled_for <= now()),
         count(*) FILTER (WHERE q.scheduled_for > now()),
         min(q.scheduled_for) FILTER (WHERE q.scheduled_for <= now())
    FROM public.message_queue q
   WHERE q.status = 'queued'
   GROUP BY q.priority
   ORDER BY CASE q.priority WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END;
$$;

SELECT public.yp_secure_public();
