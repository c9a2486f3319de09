-- The turn framework (shared/agents/turn.py): one turn at a time per user, coalescing.

-- name: turn_lock_user
-- Transaction-scoped advisory lock: one agent turn at a time per user.
SELECT pg_advisory_xact_lock(%(namespace)s, hashtext(%(user_id)s::text));

-- name: turn_unanswered_inbound
-- Inbound routed messages (user texts and system triggers) no turn has answered yet: after the last turn's watermark and not named by any turn; before any turn ran, after the last agent reply.
WITH last_turn AS (
    SELECT max((output_data ->> 'answered_through')::timestamptz) AS through
    FROM agent_actions_log
    WHERE user_id = %(user_id)s AND action_type = 'agent_turn'
), last_reply AS (
    SELECT max(created_at) AS at FROM messages
    WHERE user_id = %(user_id)s AND direction = 'outbound' AND role = ANY(%(agent_roles)s)
)
SELECT m.id, m.conversation_id, m.role, m.direction, m.content, m.created_at
FROM messages AS m, last_turn, last_reply
WHERE m.user_id = %(user_id)s
  AND m.direction = 'inbound'
  AND m.routed
  AND (
      (last_turn.through IS NULL AND (last_reply.at IS NULL OR m.created_at > last_reply.at))
      OR (last_turn.through IS NOT NULL AND m.created_at >= last_turn.through)
  )
  AND NOT EXISTS (
      SELECT 1 FROM agent_actions_log AS l
      WHERE l.user_id = %(user_id)s AND l.action_type = 'agent_turn'
        AND l.input_data -> 'message_ids' ? m.id::text
  )
ORDER BY m.created_at, m.id;

-- name: turn_record
-- The turn's marker row, written with its replies: which inbound messages it answered, how, and with which prompt version.
INSERT INTO agent_actions_log (agent_type, action_type, user_id, context_id, context_type,
                               input_data, output_data, latency_ms, error, prompt_version)
VALUES (%(agent_type)s, %(action_type)s, %(user_id)s, %(context_id)s, 'conversation',
        %(input_data)s::jsonb, %(output_data)s::jsonb, %(latency_ms)s, %(error)s, %(prompt_version)s)
RETURNING id;
