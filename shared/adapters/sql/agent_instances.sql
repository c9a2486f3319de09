-- agent_instances: each agent's prompt/config version, registered at first use (issue 8 §7).

-- name: agent_instances_find
-- The shared agent_instances row of one agent at one prompt/config version.
SELECT id FROM agent_instances
WHERE agent_type = %(agent_type)s AND prompt_version = %(prompt_version)s AND user_id IS NULL;

-- name: agent_instances_register
-- Register an agent's prompt/config version (first use in a process); a concurrent registration wins quietly.
INSERT INTO agent_instances (agent_type, prompt_version, status)
VALUES (%(agent_type)s, %(prompt_version)s, 'active')
ON CONFLICT (agent_type, prompt_version) WHERE user_id IS NULL DO NOTHING;
