-- name: insert_llm_call_log
-- One LLM call (success or error) in the cost ledger, pointing at its agent_instances row (the caller's; else the agent's instance of this prompt version, else its latest active one).
INSERT INTO agent_actions_log (
    agent_type, agent_instance_id, action_type, user_id, context_id, context_type, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms,
    input_data, output_data, error, prompt_version)
SELECT %(agent_type)s, COALESCE(%(agent_instance_id)s::uuid, ai.id), %(action_type)s, u.id, %(context_id)s::uuid, %(context_type)s, %(model)s,
       %(input_tokens)s, %(output_tokens)s, %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s,
       %(latency_ms)s, %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s,
       COALESCE(%(prompt_version)s, ai.prompt_version)
FROM (SELECT 1) AS one
LEFT JOIN users AS u ON u.id = %(user_id)s::uuid
LEFT JOIN LATERAL (
    SELECT id, prompt_version FROM agent_instances
    WHERE agent_type = %(agent_type)s AND status = 'active'
      AND (user_id = %(user_id)s::uuid OR user_id IS NULL)
    ORDER BY (prompt_version IS NOT DISTINCT FROM %(prompt_version)s::varchar) DESC, (user_id IS NULL),
             created_at DESC
    LIMIT 1
) AS ai ON true;

-- name: llm_calls_for_user
-- The LLM ledger rows of one user, oldest first (tests, ops).
SELECT * FROM agent_actions_log
WHERE user_id = %(user_id)s AND action_type = 'llm_call'
ORDER BY created_at, id;
