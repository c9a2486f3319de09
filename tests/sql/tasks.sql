-- Assertion reads of agent tasks (tests/backbone_support.py, tests/reengagement_support.py).

-- name: check_task
-- One task row, every column.
SELECT * FROM agent_tasks WHERE id = %(task_id)s;

-- name: check_reengagement_checks
-- The member's re_engagement_check tasks in one status, soonest first.
SELECT * FROM agent_tasks
WHERE user_id = %(user_id)s AND task_type = 're_engagement_check' AND status = %(status)s
ORDER BY scheduled_for;
