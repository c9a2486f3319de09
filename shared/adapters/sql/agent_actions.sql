-- agent_actions_log: the audit trail of agents and the orchestrator, the LLM cost ledger, and the
-- orchestrator's send ledger (its rolling hour).

-- name: agent_actions_insert
-- One action row; instance and prompt version default to the agent's active agent_instances row (the user's own first); an unknown user id is stored as NULL.
INSERT INTO agent_actions_log (
    agent_type, agent_instance_id, action_type, user_id, context_id, context_type, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms,
    input_data, output_data, error, prompt_version, created_at)
SELECT %(agent_type)s, ai.id, %(action_type)s, u.id, %(context_id)s::uuid, %(context_type)s, %(model)s,
       %(input_tokens)s, %(output_tokens)s, %(cache_read_tokens)s, %(cache_write_tokens)s, %(cost_usd)s,
       %(latency_ms)s, %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s,
       COALESCE(%(prompt_version)s, ai.prompt_version), COALESCE(%(created_at)s::timestamptz, now())
FROM (SELECT 1) AS one
LEFT JOIN users AS u ON u.id = %(user_id)s::uuid
LEFT JOIN LATERAL (
    SELECT id, prompt_version FROM agent_instances
    WHERE agent_type = %(agent_type)s AND status = 'active'
      AND (user_id = %(user_id)s::uuid OR user_id IS NULL)
    ORDER BY (user_id IS NULL), created_at DESC
    LIMIT 1
) AS ai ON true
RETURNING id;

-- name: agent_actions_budgeted_sends
-- Budgeted send units in (since, now]: the orchestrator's send ledger.
SELECT created_at FROM agent_actions_log
WHERE user_id = %(user_id)s AND action_type = 'proactive_send_budgeted'
  AND created_at > %(since)s AND created_at <= %(now)s
ORDER BY created_at;

-- name: bouncer_log_action
-- A Bouncer action (fallback used, referral matched, email verified ...) in agent_actions_log.
INSERT INTO agent_actions_log (agent_type, action_type, user_id, context_id, context_type,
                               input_data, output_data, error)
VALUES (%(agent_type)s, %(action_type)s, %(user_id)s, %(context_id)s, %(context_type)s,
        %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s)
RETURNING id;

-- name: turn_record
-- The turn's marker row, written with its replies: which inbound messages it answered, how, and with which prompt version.
INSERT INTO agent_actions_log (agent_type, action_type, user_id, context_id, context_type,
                               input_data, output_data, latency_ms, error, prompt_version)
VALUES (%(agent_type)s, %(action_type)s, %(user_id)s, %(context_id)s, 'conversation',
        %(input_data)s::jsonb, %(output_data)s::jsonb, %(latency_ms)s, %(error)s, %(prompt_version)s)
RETURNING id;
