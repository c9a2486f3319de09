-- Agent tasks (decisions B3, B7): creation, the sweeper's claim, lease-guarded transitions.

-- name: tasks_insert
-- Create a pending task; a pending or processing task with the same dedupe_key makes this a no-op.
INSERT INTO agent_tasks (task_type, agent_type, user_id, context_id, context_type, scheduled_for,
                         priority, context_json, created_by, dedupe_key, max_retries)
VALUES (%(task_type)s, %(agent_type)s, %(user_id)s, %(context_id)s, %(context_type)s, %(scheduled_for)s,
        %(priority)s, %(context_json)s::jsonb, %(created_by)s, %(dedupe_key)s, %(max_retries)s)
ON CONFLICT (dedupe_key) WHERE status IN ('pending', 'processing') DO NOTHING
RETURNING id;

-- name: tasks_cancel_pending
-- Cancel a user's pending tasks of one type (optionally for one context), recording why.
UPDATE agent_tasks
   SET status = 'cancelled',
       completed_at = now(),
       result_json = jsonb_build_object('reason', %(reason)s::text, 'cancelled_at', now())
 WHERE status = 'pending'
   AND task_type = %(task_type)s
   AND user_id = %(user_id)s
   AND (%(context_id)s::uuid IS NULL OR context_id = %(context_id)s::uuid)
   AND (%(context_type)s::text IS NULL OR context_type = %(context_type)s::text);

-- name: tasks_cancel_reengagement_for_items
-- Cancel the member's pending re-engagement checks about dormant items (context id or priority_items).
UPDATE agent_tasks AS t
SET status = 'cancelled', completed_at = %(now)s,
    result_json = jsonb_build_object('reason', 'item_marked_dormant', 'cancelled_at', %(now)s::timestamptz)
WHERE t.status = 'pending'
  AND t.task_type = 're_engagement_check'
  AND t.user_id = %(user_id)s
  AND (t.context_id = ANY(%(item_ids)s::uuid[])
       OR EXISTS (
         SELECT 1
         FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.context_json -> 'priority_items') = 'array'
                                        THEN t.context_json -> 'priority_items' ELSE '[]'::jsonb END) AS e
         WHERE e ->> 'item_id' = ANY(%(item_ids)s::text[])))
RETURNING t.id;

-- name: tasks_cancel_pending_for_context
-- Cancel every member's pending tasks of these types about one context (a finished request), recording why.
UPDATE agent_tasks
   SET status = 'cancelled',
       completed_at = now(),
       result_json = jsonb_build_object('reason', %(reason)s::text, 'cancelled_at', now())
 WHERE status = 'pending'
   AND context_id = %(context_id)s
   AND task_type = ANY(%(task_types)s);

-- name: tasks_claim_due
-- Claim due pending tasks, urgent > high > medium > low then scheduled_for, in one statement (SKIP LOCKED).
WITH due AS (
  SELECT t.id, t.user_id
    FROM agent_tasks t
   WHERE t.status = 'pending'
     AND t.scheduled_for <= now()
   ORDER BY CASE t.priority WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END,
            t.scheduled_for, t.id
   LIMIT %(limit)s
     FOR UPDATE SKIP LOCKED
)
UPDATE agent_tasks t
   SET status = 'processing',
       claim_token = gen_random_uuid(),
       lease_expires_at = now() + %(lease)s::interval,
       last_attempted_at = now()
  FROM due
  LEFT JOIN users u ON u.id = due.user_id
 WHERE t.id = due.id
RETURNING t.id, t.task_type, t.agent_type, t.user_id, t.context_id, t.context_type, t.context_json,
          t.priority, t.retry_count, t.max_retries, t.scheduled_for, t.claim_token, t.lease_expires_at,
          t.created_at, u.verified AS user_verified, u.poc_agent_type AS user_poc_agent_type;

-- name: tasks_lock_expired_leases
-- Lock processing tasks whose lease ran out (the worker died or timed out); held until commit.
SELECT id, claim_token, retry_count, max_retries, task_type, agent_type, user_id, context_json, created_at
  FROM agent_tasks
 WHERE status = 'processing'
   AND lease_expires_at < now()
 ORDER BY lease_expires_at
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED;

-- name: tasks_requeue_claimed
-- Put claimed tasks back to pending for a retry at a given time; guarded by claim token and status.
UPDATE agent_tasks a
   SET status = 'pending',
       retry_count = x.retry_count,
       scheduled_for = x.scheduled_for,
       error_log = x.error,
       claim_token = NULL,
       lease_expires_at = NULL
  FROM unnest(%(ids)s::uuid[], %(claim_tokens)s::uuid[], %(retry_counts)s::int[],
              %(scheduled_fors)s::timestamptz[], %(errors)s::text[])
       AS x(id, claim_token, retry_count, scheduled_for, error)
 WHERE a.id = x.id
   AND a.claim_token = x.claim_token
   AND a.status = 'processing'
RETURNING a.id;

-- name: tasks_fail_claimed
-- Fail claimed tasks for good; guarded by claim token and status. Returns what a dead letter needs.
UPDATE agent_tasks a
   SET status = 'failed',
       completed_at = now(),
       error_log = x.error,
       result_json = jsonb_build_object('error', x.error),
       claim_token = NULL,
       lease_expires_at = NULL
  FROM unnest(%(ids)s::uuid[], %(claim_tokens)s::uuid[], %(errors)s::text[]) AS x(id, claim_token, error)
 WHERE a.id = x.id
   AND a.claim_token = x.claim_token
   AND a.status = 'processing'
RETURNING a.id, a.task_type, a.agent_type, a.user_id, a.context_id, a.context_type, a.context_json,
          a.priority, a.retry_count, a.created_at, x.error;

-- name: tasks_complete
-- Complete a claimed task; zero rows means the claim was lost (expired lease, stale token).
UPDATE agent_tasks
   SET status = 'completed',
       completed_at = now(),
       result_json = %(result)s::jsonb,
       claim_token = NULL,
       lease_expires_at = NULL
 WHERE id = %(task_id)s
   AND claim_token = %(claim_token)s
   AND status = 'processing';

-- name: tasks_get_claimed
-- A task's retry counters, only while this claim holds it.
SELECT id, retry_count, max_retries, task_type, agent_type
  FROM agent_tasks
 WHERE id = %(task_id)s
   AND claim_token = %(claim_token)s
   AND status = 'processing'
   FOR UPDATE;

-- name: tasks_status_counts
-- Tasks by status, with how many pending ones are due now and how many leases have expired.
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'pending' AND scheduled_for <= now()) AS due,
       count(*) FILTER (WHERE status = 'processing') AS processing,
       count(*) FILTER (WHERE status = 'processing' AND lease_expires_at < now()) AS lease_expired,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       min(scheduled_for) FILTER (WHERE status = 'pending' AND scheduled_for <= now()) AS oldest_due
  FROM agent_tasks;

-- name: tasks_requeue_failed
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

-- name: tasks_open_for_user
-- A user's pending or processing tasks of one type, soonest first.
SELECT id, task_type, agent_type, user_id, context_id, context_type, context_json, priority, status,
       retry_count, max_retries, scheduled_for, claim_token, lease_expires_at, created_at
FROM agent_tasks
WHERE user_id = %(user_id)s AND task_type = %(task_type)s AND status IN ('pending', 'processing')
ORDER BY scheduled_for, id;

-- name: tasks_created_at
-- When a task was created (a follow-up is stale when the user wrote after it was scheduled).
SELECT created_at FROM agent_tasks WHERE id = %(task_id)s;
