-- The turn framework (shared/agents/conversation/): one turn at a time per user, coalescing.

-- name: turn_lock_user
-- Transaction-scoped advisory lock: one agent turn at a time per user.
SELECT pg_advisory_xact_lock(%(namespace)s, hashtext(%(user_id)s::text));

-- name: turn_unanswered_inbound
-- Inbound routed messages (user texts and system triggers) that no turn has answered yet (messages.answered_by_turn_id).
SELECT m.id, m.conversation_id, m.role, m.direction, m.content, m.created_at
FROM messages AS m
WHERE m.user_id = %(user_id)s
  AND m.direction = 'inbound'
  AND m.routed
  AND m.answered_by_turn_id IS NULL
ORDER BY m.created_at, m.id;

-- name: turn_record
-- The turn's audit row in agent_actions_log (agent_turn, agent_invocation_error); nothing reads state back from it.
INSERT INTO agent_actions_log (agent_type, agent_instance_id, action_type, user_id, context_id, context_type,
                               input_data, output_data, latency_ms, error, prompt_version)
VALUES (%(agent_type)s, %(agent_instance_id)s, %(action_type)s, %(user_id)s, %(context_id)s, 'conversation',
        %(input_data)s::jsonb, %(output_data)s::jsonb, %(latency_ms)s, %(error)s, %(prompt_version)s)
RETURNING id;

-- name: turn_insert
-- The agent_turns row of one committed turn (its id is chosen before the turn writes anything).
INSERT INTO agent_turns (id, agent_type, agent_instance_id, prompt_version, user_id, conversation_id, call_kind,
                         status, path, delivery, decision, tools, message_ids, queue_ids, guard_violations,
                         error, latency_ms)
VALUES (%(id)s, %(agent_type)s, %(agent_instance_id)s, %(prompt_version)s, %(user_id)s, %(conversation_id)s,
        %(call_kind)s, %(status)s, %(path)s, %(delivery)s, %(decision)s::jsonb, %(tools)s::jsonb,
        %(message_ids)s::uuid[], %(queue_ids)s::uuid[], %(guard_violations)s::text[], %(error)s,
        %(latency_ms)s)
RETURNING id;

-- name: turn_mark_answered
-- The answered-by marker: these inbound messages are answered by this turn (only if no turn has answered them).
UPDATE messages SET answered_by_turn_id = %(turn_id)s
WHERE id = ANY(%(message_ids)s::uuid[]) AND direction = 'inbound' AND answered_by_turn_id IS NULL
RETURNING id;

-- name: agent_instance_find
-- The shared agent_instances row of one agent at one prompt/config version.
SELECT id FROM agent_instances
WHERE agent_type = %(agent_type)s AND prompt_version = %(prompt_version)s AND user_id IS NULL;

-- name: agent_instance_register
-- Register an agent's prompt/config version (first use in a process); a concurrent registration wins quietly.
INSERT INTO agent_instances (agent_type, prompt_version, status)
VALUES (%(agent_type)s, %(prompt_version)s, 'active')
ON CONFLICT (agent_type, prompt_version) WHERE user_id IS NULL DO NOTHING;
