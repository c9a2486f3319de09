-- Solution Saga workflows (agents.md §9): one row holds a research workflow's whole state.

-- name: solution_insert_workflow
-- A new workflow at initial_research; nothing when the event that asks for it already made one.
INSERT INTO solution_workflows (user_id, conversation_id, request_description, category, urgency,
                                source_event_id, created_at, updated_at)
VALUES (%(user_id)s, %(conversation_id)s, %(request_description)s, %(category)s, %(urgency)s,
        %(source_event_id)s, %(now)s, %(now)s)
ON CONFLICT (source_event_id) WHERE source_event_id IS NOT NULL DO NOTHING
RETURNING id;

-- name: solution_lock_workflow
-- A workflow, locked: every step runs on the row it read (a timeout and a response serialise).
SELECT * FROM solution_workflows WHERE id = %(workflow_id)s FOR UPDATE;

-- name: solution_workflow_by_event
-- The workflow an event started.
SELECT * FROM solution_workflows WHERE source_event_id = %(source_event_id)s;

-- name: solution_save_workflow
-- Write a workflow's state after a step.
UPDATE solution_workflows
   SET current_step = %(current_step)s,
       status = %(status)s,
       web_research_status = %(web_research_status)s,
       web_results = %(web_results)s::jsonb,
       matched_innovators = %(matched_innovators)s::jsonb,
       community_insights = %(community_insights)s::jsonb,
       expert_recommendations = %(expert_recommendations)s::jsonb,
       initial_findings = %(initial_findings)s::jsonb,
       final_recommendations = %(final_recommendations)s::jsonb,
       community_request_id = %(community_request_id)s,
       quality_threshold_met = %(quality_threshold_met)s,
       last_decision_at = %(last_decision_at)s,
       next_action = %(next_action)s,
       pending_tasks = %(pending_tasks)s::jsonb,
       completed_tasks = %(completed_tasks)s::jsonb,
       conversation_log = %(conversation_log)s::jsonb,
       completed_at = %(completed_at)s,
       cancelled_at = %(cancelled_at)s
 WHERE id = %(workflow_id)s
RETURNING id;

-- name: solution_open_workflows_for_user
-- A member's workflows still in progress (optionally only one, those waiting on given community
-- requests, or those about a topic), locked, oldest first.
SELECT * FROM solution_workflows
 WHERE user_id = %(user_id)s
   AND status = 'in_progress'
   AND (%(workflow_id)s::uuid IS NULL OR id = %(workflow_id)s::uuid)
   AND (%(request_ids)s::uuid[] IS NULL OR community_request_id = ANY(%(request_ids)s::uuid[]))
   AND (%(pattern)s::text IS NULL OR request_description ILIKE %(pattern)s::text
        OR category ILIKE %(pattern)s::text)
 ORDER BY created_at
   FOR UPDATE;

-- name: solution_sources_for_user
-- What a member's recent workflows found (web results, innovators rows, expert answers): the only
-- vendor names and URLs a message to them may carry.
SELECT id, web_results, matched_innovators, community_insights
  FROM solution_workflows
 WHERE user_id = %(user_id)s
   AND status <> 'cancelled'
   AND created_at >= %(since)s
 ORDER BY created_at DESC
 LIMIT %(limit)s;

-- name: solution_request_responses
-- The expert answers on the community request a workflow waits on, oldest first.
SELECT r.id, r.user_id, r.response_text, r.verbatim_answer, u.first_name AS expert_first_name, r.created_at
  FROM solution_workflows w
  JOIN community_responses r ON r.request_id = w.community_request_id
  LEFT JOIN users u ON u.id = r.user_id
 WHERE w.id = %(workflow_id)s
 ORDER BY r.created_at, r.id;

-- name: solution_open_follow_ups
-- Follow-up questions decision point 2 asked this member (the expert) that went out (their queued
-- message was sent) and are not answered yet, on workflows in progress or completed since
-- %(since)s; optionally one workflow's. Most recently sent first.
SELECT w.id AS workflow_id, w.status, w.request_description,
       i.insight ->> 'response_id' AS response_id,
       i.insight -> 'follow_up' ->> 'question' AS question,
       max(mq.sent_at) AS sent_at
  FROM solution_workflows w
 CROSS JOIN LATERAL jsonb_array_elements(w.community_insights) AS i(insight)
  JOIN message_queue mq
    ON mq.user_id = %(user_id)s
   AND mq.status = 'sent'
   AND mq.id::text IN (SELECT jsonb_array_elements_text(i.insight -> 'follow_up' -> 'queued_message_ids'))
 WHERE (w.status = 'in_progress' OR (w.status = 'completed' AND w.completed_at >= %(since)s))
   AND (%(workflow_id)s::uuid IS NULL OR w.id = %(workflow_id)s::uuid)
   AND jsonb_typeof(i.insight -> 'follow_up' -> 'queued_message_ids') = 'array'
   AND i.insight -> 'follow_up' ->> 'expert_user_id' = %(user_id)s::text
   AND NOT (i.insight -> 'follow_up' ? 'answer')
 GROUP BY w.id, w.status, w.request_description, i.insight
 ORDER BY sent_at DESC, w.id
 LIMIT %(limit)s;
