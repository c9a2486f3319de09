-- message_queue: proactive messages waiting for the orchestrator (platform §1, decisions B1-B3, B14).
-- Priorities are ordered by array_position(%(priority_order)s, priority): the order comes from
-- PRIORITY_RANK in shared/domain/constants.py, never from an alphabetical sort.

-- name: queue_insert
-- Put one proactive message (or one part of a sequence) into message_queue.
INSERT INTO message_queue (user_id, agent_id, message_data, final_message, scheduled_for, priority, status,
                           conversation_context_id, requires_fresh_context, can_delay, sequence_id,
                           sequence_position, sequence_total, created_at)
VALUES (%(user_id)s, %(agent_id)s, %(message_data)s::jsonb, %(final_message)s, %(scheduled_for)s,
        %(priority)s, 'queued', %(conversation_context_id)s, %(requires_fresh_context)s, %(can_delay)s,
        %(sequence_id)s, %(sequence_position)s, %(sequence_total)s, %(now)s)
RETURNING id, scheduled_for;

-- name: queue_cancel
-- Cancel a queued message (or every part of its sequence) that has not gone out yet.
UPDATE message_queue SET status = 'cancelled', superseded_reason = left(%(reason)s, 100)
WHERE status = 'queued' AND user_id = %(user_id)s
  AND (id = %(id)s OR sequence_id = (SELECT sequence_id FROM message_queue WHERE id = %(id)s))
RETURNING id;

-- name: queue_supersede_for_agent
-- An agent's queued messages of one kind are stale (the user replied, onboarding ended ...): superseded with the reason.
UPDATE message_queue SET status = 'superseded', superseded_reason = left(%(reason)s, 100)
WHERE user_id = %(user_id)s AND status = 'queued' AND agent_id = %(agent_id)s
  AND message_data ->> 'kind' = %(kind)s;

-- name: queue_due_users
-- Users with due queued rows, the one with the most urgent, oldest due row first.
SELECT user_id,
       min(array_position(%(priority_order)s::text[], priority::text)) AS rank,
       min(scheduled_for) AS first_due
FROM message_queue
WHERE status = 'queued' AND scheduled_for <= %(now)s
GROUP BY user_id
ORDER BY rank, first_due, user_id
LIMIT %(batch)s;

-- name: queue_claim_due_for_user
-- Lock one user's due queued rows, whole sequences included, most urgent first.
SELECT mq.id, mq.user_id, mq.agent_id, mq.message_data, mq.final_message, mq.priority, mq.scheduled_for,
       mq.created_at, mq.conversation_context_id, mq.requires_fresh_context, mq.sequence_id,
       mq.sequence_position, mq.sequence_total
FROM message_queue mq
WHERE mq.user_id = %(user_id)s AND mq.status = 'queued'
  AND (mq.scheduled_for <= %(now)s
       OR mq.sequence_id IN (
         SELECT d.sequence_id FROM message_queue d
         WHERE d.user_id = %(user_id)s AND d.status = 'queued' AND d.scheduled_for <= %(now)s
           AND d.sequence_id IS NOT NULL))
ORDER BY array_position(%(priority_order)s::text[], mq.priority::text), mq.scheduled_for, mq.sequence_id,
         mq.sequence_position, mq.id
FOR UPDATE OF mq SKIP LOCKED;

-- name: queue_reschedule
-- Defer queued rows (every part of a unit) to the time they become allowed.
UPDATE message_queue SET scheduled_for = %(until)s
WHERE id = ANY(%(ids)s::uuid[]) AND status = 'queued';

-- name: queue_close
-- End queued rows without sending: 'cancelled', 'superseded' or 'failed', with the reason.
UPDATE message_queue SET status = %(status)s, superseded_reason = left(%(reason)s, 100)
WHERE id = ANY(%(ids)s::uuid[]) AND status = 'queued';

-- name: queue_mark_sent
-- A queued row became an outbound message: record it (and the body it was sent with).
UPDATE message_queue
SET status = 'sent', sent_at = %(now)s, delivered_message_id = %(message_id)s,
    final_message = coalesce(final_message, %(body)s)
WHERE id = %(id)s AND status = 'queued';

-- name: queue_next_due_for_user
-- When the user's next queued row is due (None when nothing is queued).
SELECT min(scheduled_for) AS at FROM message_queue WHERE user_id = %(user_id)s AND status = 'queued';

-- name: queue_depths
-- message_queue rows per status (the orchestrator's backlog), and for queued or approved ones how many are
-- due; NULL for the others (a sent, superseded or cancelled row is never due, whatever its scheduled_for).
SELECT status, count(*) AS n,
       CASE WHEN status IN ('queued', 'approved') THEN count(*) FILTER (WHERE scheduled_for <= now()) END AS due
  FROM message_queue
 GROUP BY status
 ORDER BY status;
