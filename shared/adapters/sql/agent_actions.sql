-- agent_actions_log: the audit trail of agents and the orchestrator, the LLM cost ledger, and the
-- orchestrator's send ledger (its rolling hour).

-- name: agent_actions_insert
-- One action row (turns, LLM calls, decisions); its agent_instances row is the caller's, else the agent's instance of this prompt version, else its latest active one (the user's own first); an unknown user id is stored as NULL.
INSERT INTO agent_actions_log (
    agent_type, agent_instance_id, action_type, user_id, context_id, context_type, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms,
    input_data, output_data, error, prompt_version, created_at)
SELECT %(agent_type)s, COALESCE(%(agent_instance_id)s::uuid, ai.id), %(action_type)s, u.id, %(context_id)s::uuid, %(context_type)s, %(model)s,
       %(input_tokens)s, %(output_tokens)s, %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s,
       %(latency_ms)s, %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s,
       COALESCE(%(prompt_version)s, ai.prompt_version), COALESCE(%(created_at)s::timestamptz, now())
FROM (SELECT 1) AS one
LEFT JOIN users AS u ON u.id = %(user_id)s::uuid
LEFT JOIN LATERAL (
    SELECT id, prompt_version FROM agent_instances
    WHERE agent_type = %(agent_type)s AND status = 'active'
      AND (user_id = %(user_id)s::uuid OR user_id IS NULL)
    ORDER BY (prompt_version IS NOT DISTINCT FROM %(prompt_version)s::varchar) DESC, (user_id IS NULL),
             created_at DESC
    LIMIT 1
) AS ai ON true
RETURNING id;

-- name: agent_actions_insert_for_instance
-- One action row whose agent_instances row the caller knows (every turn's and LLM call's): the
-- same row as agent_actions_insert, without its instance lookup (a third of that insert's cost,
-- most of it planning). An unknown user id is stored as NULL.
INSERT INTO agent_actions_log (
    agent_type, agent_instance_id, action_type, user_id, context_id, context_type, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms,
    input_data, output_data, error, prompt_version, created_at)
VALUES (%(agent_type)s, %(agent_instance_id)s::uuid, %(action_type)s,
        (SELECT u.id FROM users AS u WHERE u.id = %(user_id)s::uuid),
        %(context_id)s::uuid, %(context_type)s, %(model)s,
        %(input_tokens)s, %(output_tokens)s, %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s,
        %(latency_ms)s, %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s,
        COALESCE(%(prompt_version)s::varchar,
                 (SELECT i.prompt_version FROM agent_instances AS i WHERE i.id = %(agent_instance_id)s::uuid)),
        COALESCE(%(created_at)s::timestamptz, now()))
RETURNING id;

-- name: agent_actions_budgeted_sends
-- Budgeted send units in (since, now]: the orchestrator's send ledger.
SELECT created_at FROM agent_actions_log
WHERE user_id = %(user_id)s AND action_type = 'proactive_send_budgeted'
  AND created_at > %(since)s AND created_at <= %(now)s
ORDER BY created_at;

