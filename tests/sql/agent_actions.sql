-- Assertion reads of the agent actions log (tests/backbone_support.py, tests/reengagement_support.py).

-- name: check_probe_runs
-- How many times the consumer probe handled one delivery.
SELECT count(*) AS n FROM agent_actions_log WHERE agent_type = 'probe' AND context_id = %(delivery_id)s;

-- name: check_actions_of_member
-- The member's actions of one type, oldest first.
SELECT * FROM agent_actions_log WHERE user_id = %(user_id)s AND action_type = %(action_type)s
ORDER BY created_at;
