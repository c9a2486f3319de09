-- agent_turns: one row per committed conversational turn (exactly-once with messages.answered_by_turn_id).

-- name: agent_turns_insert
-- The agent_turns row of one committed turn (its id is chosen before the turn writes anything).
INSERT INTO agent_turns (id, agent_type, agent_instance_id, prompt_version, user_id, conversation_id, call_kind,
                         status, path, delivery, decision, tools, message_ids, queue_ids, guard_violations,
                         error, latency_ms)
VALUES (%(id)s, %(agent_type)s, %(agent_instance_id)s, %(prompt_version)s, %(user_id)s, %(conversation_id)s,
        %(call_kind)s, %(status)s, %(path)s, %(delivery)s, %(decision)s::jsonb, %(tools)s::jsonb,
        %(message_ids)s::uuid[], %(queue_ids)s::uuid[], %(guard_violations)s::text[], %(error)s,
        %(latency_ms)s)
RETURNING id;
