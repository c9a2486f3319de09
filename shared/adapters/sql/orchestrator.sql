-- Message orchestrator (platform §1, decisions B1-B3, B14) and the queue_message use case.
-- Priorities are ordered by array_position(%(priority_order)s, priority): the order comes from
-- PRIORITY_RANK in shared/domain/constants.py, never from an alphabetical sort.

-- name: orchestrator_due_users
-- Users with due queued rows, the one with the most urgent, oldest due row first.
SELECT user_id,
       min(array_position(%(priority_order)s::text[], priority::text)) AS rank,
       min(scheduled_for) AS first_due
FROM message_queue
WHERE status = 'queued' AND scheduled_for <= %(now)s
GROUP BY user_id
ORDER BY rank, first_due, user_id
LIMIT %(batch)s;

-- name: orchestrator_try_lock_user
-- Serialise budget decisions for one user across concurrent ticks (released at commit/rollback).
SELECT pg_try_advisory_xact_lock(hashtextextended('yp.orchestrator:' || %(user_id)s::text, 0)) AS locked;

-- name: orchestrator_user_profile
-- What the send policy needs about one user, with their latest inbound text up to now.
SELECT u.id, u.phone_number, u.timezone, u.quiet_hours_start, u.quiet_hours_end, u.opted_out,
       u.verified, u.poc_agent_type, u.response_pattern,
       (SELECT max(m.created_at) FROM messages m
         WHERE m.user_id = u.id AND m.direction = 'inbound' AND m.role = 'user'
           AND m.created_at <= %(now)s) AS last_inbound_at
FROM users u
WHERE u.id = %(user_id)s;

-- name: orchestrator_budget_row
-- The user's budget row for this local date, else their latest one (it carries per-user overrides).
SELECT date, messages_sent, daily_limit, hourly_limit, quiet_hours_enabled
FROM user_message_budget
WHERE user_id = %(user_id)s
ORDER BY (date = %(date)s) DESC, date DESC
LIMIT 1;

-- name: orchestrator_recent_budgeted_sends
-- Budgeted send units in (since, now]: the orchestrator's send ledger in agent_actions_log.
SELECT created_at FROM agent_actions_log
WHERE user_id = %(user_id)s AND action_type = 'proactive_send_budgeted'
  AND created_at > %(since)s AND created_at <= %(now)s
ORDER BY created_at;

-- name: orchestrator_claim_user_rows
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

-- name: orchestrator_reschedule_rows
-- Defer queued rows (every part of a unit) to the time they become allowed.
UPDATE message_queue SET scheduled_for = %(until)s
WHERE id = ANY(%(ids)s::uuid[]) AND status = 'queued';

-- name: orchestrator_close_rows
-- End queued rows without sending: 'cancelled', 'superseded' or 'failed', with the reason.
UPDATE message_queue SET status = %(status)s, superseded_reason = left(%(reason)s, 100)
WHERE id = ANY(%(ids)s::uuid[]) AND status = 'queued';

-- name: orchestrator_mark_sent
-- A queued row became an outbound message: record it (and the body it was sent with).
UPDATE message_queue
SET status = 'sent', sent_at = %(now)s, delivered_message_id = %(message_id)s,
    final_message = coalesce(final_message, %(body)s)
WHERE id = %(id)s AND status = 'queued';

-- name: orchestrator_count_budgeted_send
-- Count one budgeted send unit on the user's local date (creating the day's row with their limits).
INSERT INTO user_message_budget (user_id, date, messages_sent, last_message_at, daily_limit, hourly_limit,
                                 quiet_hours_enabled)
VALUES (%(user_id)s, %(date)s, 1, %(now)s, %(daily_limit)s, %(hourly_limit)s, %(quiet_hours_enabled)s)
ON CONFLICT (user_id, date) DO UPDATE
SET messages_sent = user_message_budget.messages_sent + 1, last_message_at = excluded.last_message_at
RETURNING messages_sent;

-- name: orchestrator_log_action
-- One orchestrator decision in agent_actions_log (sends are the ledger of the rolling hour).
INSERT INTO agent_actions_log (agent_type, action_type, user_id, context_id, context_type, input_data,
                               output_data, error, created_at)
VALUES ('message_orchestrator', %(action_type)s, %(user_id)s, %(context_id)s, 'message_queue',
        %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s, %(now)s)
RETURNING id;

-- name: orchestrator_user_conversation
-- A conversation of this user by id (the queued row's conversation_context_id), any status.
SELECT id FROM conversations WHERE id = %(conversation_id)s AND user_id = %(user_id)s;

-- name: orchestrator_active_conversation
-- The user's active conversation, if any.
SELECT id FROM conversations WHERE user_id = %(user_id)s AND status = 'active';

-- name: orchestrator_open_conversation
-- Open the user's active conversation unless one exists (the partial unique index decides).
INSERT INTO conversations (user_id, phone_number, status)
SELECT id, phone_number, 'active' FROM users WHERE id = %(user_id)s
ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
RETURNING id;

-- name: orchestrator_newer_user_messages
-- What the user wrote after a queued row was created (freshness check), oldest first.
SELECT content, created_at FROM messages
WHERE user_id = %(user_id)s AND direction = 'inbound' AND role = 'user' AND created_at > %(since)s
ORDER BY created_at
LIMIT %(limit)s;

-- name: queue_user_for_scheduling
-- What queue_message needs to schedule a message for one user.
SELECT u.id, u.phone_number, u.timezone, u.response_pattern, u.opted_out,
       (SELECT max(m.created_at) FROM messages m
         WHERE m.user_id = u.id AND m.direction = 'inbound' AND m.role = 'user'
           AND m.created_at <= %(now)s) AS last_inbound_at
FROM users u
WHERE u.id = %(user_id)s;

-- name: queue_insert_message
-- Put one proactive message (or one part of a sequence) into message_queue.
INSERT INTO message_queue (user_id, agent_id, message_data, final_message, scheduled_for, priority, status,
                           conversation_context_id, requires_fresh_context, can_delay, sequence_id,
                           sequence_position, sequence_total, created_at)
VALUES (%(user_id)s, %(agent_id)s, %(message_data)s::jsonb, %(final_message)s, %(scheduled_for)s,
        %(priority)s, 'queued', %(conversation_context_id)s, %(requires_fresh_context)s, %(can_delay)s,
        %(sequence_id)s, %(sequence_position)s, %(sequence_total)s, %(now)s)
RETURNING id, scheduled_for;

-- name: queue_cancel_message
-- Cancel a queued message (or every part of its sequence) that has not gone out yet.
UPDATE message_queue SET status = 'cancelled', superseded_reason = left(%(reason)s, 100)
WHERE status = 'queued' AND user_id = %(user_id)s
  AND (id = %(id)s OR sequence_id = (SELECT sequence_id FROM message_queue WHERE id = %(id)s))
RETURNING id;
