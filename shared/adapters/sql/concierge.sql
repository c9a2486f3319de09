-- Named queries of the Concierge and the Innovator (agents.md §4, §5; issue 16). Every statement
-- that writes is scoped to the acting user, whose id comes from the turn, never from the model.

-- name: member_goal
-- The member's stated goal (agents.md §4.2 context, §4.3 store_user_goal).
SELECT goal, goal_type, goal_updated_at FROM users WHERE id = %(user_id)s;

-- name: member_store_goal
-- Store the member's goal on their own users row.
UPDATE users
   SET goal = %(goal)s, goal_type = %(goal_type)s, goal_updated_at = now()
 WHERE id = %(user_id)s
RETURNING id, goal, goal_type;

-- name: member_open_priorities
-- The member's top priorities that are not dormant, with their denormalised fields (decisions B9).
SELECT id, priority_rank, item_type, item_id, value_score, status, presentation_count, last_presented_at,
       item_summary, item_primary_name, item_secondary_name, item_context
  FROM user_priorities
 WHERE user_id = %(user_id)s
   AND status IN ('active', 'presented', 'clarifying')
   AND presentation_count <= 1
 ORDER BY priority_rank, created_at
 LIMIT %(limit)s;

-- name: member_open_community_requests
-- The community requests the member asked that are still open, newest first (agents.md §4.2).
SELECT id, question, request_summary, category, status, created_at
  FROM community_requests
 WHERE requesting_user_id = %(user_id)s AND status IN ('open', 'responses_received')
 ORDER BY created_at DESC
 LIMIT %(limit)s;

-- name: member_cancel_community_requests
-- Cancel the member's own open requests: one by id, or those whose question or summary matches.
UPDATE community_requests
   SET status = 'cancelled', closed_loop_at = now(),
       closed_loop_message = 'cancelled by user, no longer needed'
 WHERE requesting_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying', 'responses_received')
   AND (id = %(request_id)s::uuid
        OR (%(request_id)s::uuid IS NULL
            AND (question ILIKE %(pattern)s OR coalesce(request_summary, '') ILIKE %(pattern)s)))
RETURNING id, question, request_summary;

-- name: priorities_cancel_for_items
-- The priority rows that present cancelled items (agents.md §4.3.9).
UPDATE user_priorities SET status = 'cancelled'
 WHERE item_type = %(item_type)s AND item_id = ANY(%(item_ids)s) AND status <> 'cancelled';

-- name: innovator_profile
-- The innovator row of a member, as the Innovator agent sees it (agents.md §5).
SELECT company_name, solution_name, solution_description, categories, target_customer_profile,
       pricing_model, differentiation, warm_intro_bounty, active
  FROM innovators WHERE user_id = %(user_id)s;

-- name: innovator_update_profile
-- update_innovator_profile: the given fields of the member's own innovators row; nulls keep a value.
UPDATE innovators
   SET solution_name = coalesce(%(solution_name)s, solution_name),
       solution_description = coalesce(%(solution_description)s, solution_description),
       target_customer_profile = coalesce(%(target_customer_profile)s, target_customer_profile),
       pricing_model = coalesce(%(pricing_model)s, pricing_model),
       differentiation = coalesce(%(differentiation)s, differentiation)
 WHERE user_id = %(user_id)s
RETURNING id;

-- name: innovator_intro_progress
-- check_intro_progress: the innovator's intro opportunities and connection requests, counted by stage.
SELECT kind,
       count(*) FILTER (WHERE status IN ('open', 'presented', 'clarifying')) AS pending,
       count(*) FILTER (WHERE status IN ('accepted', 'actioned')) AS accepted,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status IN ('rejected', 'declined')) AS declined,
       count(*) AS total
  FROM (
        SELECT 'intro_opportunities' AS kind, status FROM intro_opportunities WHERE innovator_id = %(user_id)s
        UNION ALL
        SELECT 'connection_requests' AS kind, status FROM connection_requests
         WHERE requestor_user_id = %(user_id)s
       ) AS intros
 GROUP BY kind
 ORDER BY kind;

-- name: priority_mark_presented
-- markPriorityPresented (agents.md §13): count one presentation; active -> presented; a second presentation of a presented item makes it dormant (decisions B9).
UPDATE user_priorities
   SET presentation_count = presentation_count + 1,
       last_presented_at = now(),
       presented_at = coalesce(presented_at, now()),
       status = CASE
                  WHEN status = 'presented' AND presentation_count + 1 >= %(dormant_after)s THEN 'dormant'
                  WHEN status = 'active' THEN 'presented'
                  ELSE status
                END
 WHERE user_id = %(user_id)s AND item_type = %(item_type)s AND item_id = %(item_id)s
   AND status IN ('active', 'presented', 'clarifying')
RETURNING id, status, presentation_count;
