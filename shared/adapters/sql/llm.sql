-- name: insert_llm_call_log
-- One LLM call (success or error) in the cost ledger; instance and prompt version default to the agent's active agent_instances row (the user's own first).
INSERT INTO agent_actions_log (
    agent_type, agent_instance_id, action_type, user_id, context_id, context_type, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms,
    input_data, output_data, error, prompt_version)
SELECT %(agent_type)s, ai.id, %(action_type)s, u.id, %(context_id)s::uuid, %(context_type)s, %(model)s,
       %(input_tokens)s, %(output_tokens)s, %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s,
       %(latency_ms)s, %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s,
       COALESCE(%(prompt_version)s, ai.prompt_version)
FROM (SELECT 1) AS one
LEFT JOIN users AS u ON u.id = %(user_id)s::uuid
LEFT JOIN LATERAL (
    SELECT id, prompt_version FROM agent_instances
    WHERE agent_type = %(agent_type)s AND status = 'active'
      AND (user_id = %(user_id)s::uuid OR user_id IS NULL)
    ORDER BY (user_id IS NULL), created_at DESC
    LIMIT 1
) AS ai ON true;

-- name: llm_calls_for_user
-- The LLM ledger rows of one user, oldest first (tests, ops).
SELECT * FROM agent_actions_log
WHERE user_id = %(user_id)s AND action_type = 'llm_call'
ORDER BY created_at, id;
