-- The Account Manager's data: each member's ranked priorities, the intro-flow and community rows
-- they are built from, and the per-member watermark (agents.md §6, §13; decisions B9).

-- name: account_manager_member
-- The member as scoring sees them, with the watermark of their last run (none: never run).
SELECT u.id, u.verified, u.opted_out, u.first_name, u.last_name, u.company, u.title, u.expertise,
       u.poc_agent_type, u.goal,
       m.events_read_until, m.runs,
       (SELECT count(*) FROM community_responses r WHERE r.user_id = u.id) AS answers_given
FROM users AS u
LEFT JOIN account_manager_members AS m ON m.user_id = u.id
WHERE u.id = %(user_id)s;

-- name: account_manager_member_advance
-- Record a run: the watermark only moves forward; the run counter and trigger are kept for operators.
INSERT INTO account_manager_members (user_id, events_read_until, last_run_at, last_trigger, runs)
VALUES (%(user_id)s, %(events_read_until)s, %(now)s, %(trigger)s, 1)
ON CONFLICT (user_id) DO UPDATE
SET events_read_until = greatest(account_manager_members.events_read_until, excluded.events_read_until),
    last_run_at = excluded.last_run_at,
    last_trigger = excluded.last_trigger,
    runs = account_manager_members.runs + 1;

-- name: priorities_of_member
-- Every priority row of the member, whatever its status.
SELECT id, item_type, item_id, priority_rank, value_score, status, content, metadata, presentation_count,
       last_presented_at, item_summary, expires_at, score_source, score_fingerprint, score_reason, scored_at,
       created_at
FROM user_priorities
WHERE user_id = %(user_id)s
ORDER BY priority_rank, item_type, item_id;

-- name: intro_opportunities_open_for_connector
-- Open intro opportunities where the member is the connector, never dormant ones (presented twice).
SELECT id, first_name, last_name, prospect_company, prospect_title, innovator_name, intro_context, bounty_credits,
       connection_strength, status, presentation_count, last_presented_at, created_at, expires_at
FROM intro_opportunities
WHERE connector_user_id = %(user_id)s
  AND status IN ('open', 'presented', 'clarifying')
  AND presentation_count < %(dormant_after)s
  AND (expires_at IS NULL OR expires_at > %(now)s);

-- name: connection_requests_open_for_introducee
-- Open connection requests where the member is the introducee, not expired, never dormant ones.
SELECT id, requestor_name, requestor_company, requestor_title, intro_context, vouched_by_user_ids,
       requestor_credits_spent, bounty_credits, status, presentation_count, last_presented_at, created_at, expires_at
FROM connection_requests
WHERE introducee_user_id = %(user_id)s
  AND status IN ('open', 'presented', 'clarifying')
  AND presentation_count < %(dormant_after)s
  AND expires_at > %(now)s;

-- name: intro_offers_open_for_member
-- Offers waiting on the member: as introducee (step 1) or as the offering connector (step 2).
SELECT o.id, o.prospect_name, o.prospect_company, o.prospect_title, o.prospect_context, o.context_type,
       o.bounty_credits, o.status, o.created_at, o.expires_at,
       CASE WHEN o.introducee_user_id = %(user_id)s AND o.status = 'pending_introducee_response'
            THEN 'introducee' ELSE 'connector' END AS role,
       nullif(concat_ws(' ', offering.first_name, offering.last_name), '') AS offering_name,
       nullif(concat_ws(' ', introducee.first_name, introducee.last_name), '') AS introducee_name
FROM intro_offers AS o
LEFT JOIN users AS offering ON offering.id = o.offering_user_id
LEFT JOIN users AS introducee ON introducee.id = o.introducee_user_id
WHERE ((o.introducee_user_id = %(user_id)s AND o.status = 'pending_introducee_response')
    OR (o.offering_user_id = %(user_id)s AND o.status = 'pending_connector_confirmation'))
  AND o.expires_at > %(now)s;

-- name: community_requests_open_for_expert
-- Open asks routed to the member as an expert (target_user_ids, or named by a task), not yet answered by them, never dormant ones,
-- nor one they have asked themselves since (joined as a duplicate). Another expert's answer (responses_received) leaves it
-- open to the rest until every one of them has answered (agents.md §8.14).
SELECT r.id, r.question, r.category, r.expertise_needed, r.urgency, r.request_summary, r.status,
       r.presentation_count, r.last_presented_at, r.created_at, r.expires_at
FROM community_requests AS r
WHERE (r.target_user_ids @> ARRAY[%(user_id)s::uuid] OR r.id = ANY(%(named_ids)s::uuid[]))
  AND r.requesting_user_id IS DISTINCT FROM %(user_id)s
  AND NOT EXISTS (SELECT 1 FROM community_request_requesters q WHERE q.request_id = r.id AND q.user_id = %(user_id)s)
  AND r.status IN ('open', 'presented', 'clarifying', 'responses_received')
  AND r.presentation_count < %(dormant_after)s
  AND r.expires_at > %(now)s
  AND NOT EXISTS (SELECT 1 FROM community_responses cr WHERE cr.request_id = r.id AND cr.user_id = %(user_id)s);

-- name: solution_updates_for_member
-- Research finished for the member recently (solution.research_complete).
SELECT id, request_description, category, urgency, completed_at, matched_innovators
FROM solution_workflows
WHERE user_id = %(user_id)s AND status = 'completed' AND completed_at > %(since)s;

-- name: priority_sources
-- The current status of the rows behind existing priorities (a missing row: deleted).
SELECT 'intro_opportunity' AS item_type, id AS item_id, status, presentation_count
  FROM intro_opportunities WHERE id = ANY(%(intro_opportunity_ids)s::uuid[])
UNION ALL
SELECT 'connection_request', id, status, presentation_count
  FROM connection_requests WHERE id = ANY(%(connection_request_ids)s::uuid[])
UNION ALL
SELECT 'intro_offer', id, status, 0
  FROM intro_offers WHERE id = ANY(%(intro_offer_ids)s::uuid[])
UNION ALL
SELECT 'community_request', id, status, presentation_count
  FROM community_requests WHERE id = ANY(%(community_request_ids)s::uuid[])
UNION ALL
SELECT 'community_response', id, 'open', 0
  FROM community_responses WHERE id = ANY(%(community_response_ids)s::uuid[])
UNION ALL
SELECT 'solution_update', id, CASE WHEN status = 'completed' THEN 'open' ELSE status END, 0
  FROM solution_workflows WHERE id = ANY(%(solution_update_ids)s::uuid[]);

-- name: members_of_intro_items
-- The members an intro-flow row concerns (its connector, introducee or offering member), for events that name only the row.
SELECT connector_user_id AS user_id FROM intro_opportunities WHERE id = ANY(%(ids)s::uuid[])
UNION
SELECT introducee_user_id FROM connection_requests WHERE id = ANY(%(ids)s::uuid[])
UNION
SELECT offering_user_id FROM intro_offers WHERE id = ANY(%(ids)s::uuid[])
UNION
SELECT introducee_user_id FROM intro_offers WHERE id = ANY(%(ids)s::uuid[]) AND introducee_user_id IS NOT NULL;

-- name: community_request_by_id
-- One community request with its requester (community tasks and community.response_received).
SELECT id, requesting_user_id, requesting_agent_type, question, category, status
FROM community_requests WHERE id = %(request_id)s;

-- name: community_response_by_id
-- One community response with its request (community_response_available, notify_expert_of_impact).
SELECT cr.id, cr.request_id, cr.user_id AS expert_user_id, cr.response_text, cr.usefulness_score,
       cr.impact_description, cr.credits_awarded, r.requesting_user_id, r.question, r.category,
       u.first_name AS expert_first_name
FROM community_responses AS cr JOIN community_requests AS r ON r.id = cr.request_id
LEFT JOIN users AS u ON u.id = cr.user_id
WHERE cr.id = %(response_id)s;

-- name: priorities_write
-- Write the ranked list in one statement: insert or update on (user, item_type, item_id); a presented or clarifying row keeps its status.
INSERT INTO user_priorities AS p (
  user_id, priority_rank, item_type, item_id, value_score, status, content, presentation_count, last_presented_at,
  item_summary, item_primary_name, item_secondary_name, item_context, item_metadata, expires_at,
  score_source, score_fingerprint, score_reason, scored_at)
SELECT %(user_id)s, r.priority_rank, r.item_type, r.item_id, r.value_score, r.status, r.content,
       r.presentation_count, r.last_presented_at, r.item_summary, r.item_primary_name, r.item_secondary_name,
       r.item_context, r.item_metadata, r.expires_at, r.score_source, r.score_fingerprint, r.score_reason,
       r.scored_at
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
  priority_rank integer, item_type text, item_id uuid, value_score numeric, status text, content text,
  presentation_count integer, last_presented_at timestamptz, item_summary text, item_primary_name text,
  item_secondary_name text, item_context text, item_metadata jsonb, expires_at timestamptz, score_source text,
  score_fingerprint text, score_reason text, scored_at timestamptz)
ON CONFLICT (user_id, item_type, item_id) DO UPDATE
SET priority_rank = excluded.priority_rank,
    value_score = excluded.value_score,
    status = CASE WHEN p.status IN ('presented', 'clarifying') AND excluded.status = 'active' THEN p.status
                  ELSE excluded.status END,
    content = excluded.content,
    presentation_count = greatest(p.presentation_count, excluded.presentation_count),
    last_presented_at = coalesce(greatest(p.last_presented_at, excluded.last_presented_at), p.last_presented_at,
                                 excluded.last_presented_at),
    item_summary = excluded.item_summary,
    item_primary_name = excluded.item_primary_name,
    item_secondary_name = excluded.item_secondary_name,
    item_context = excluded.item_context,
    item_metadata = excluded.item_metadata,
    expires_at = excluded.expires_at,
    score_source = excluded.score_source,
    score_fingerprint = excluded.score_fingerprint,
    score_reason = excluded.score_reason,
    scored_at = CASE WHEN p.score_fingerprint IS NOT DISTINCT FROM excluded.score_fingerprint
                      AND p.score_source IS NOT DISTINCT FROM excluded.score_source
                      AND p.value_score IS NOT DISTINCT FROM excluded.value_score
                     THEN p.scored_at ELSE excluded.scored_at END;

-- name: priorities_set_status
-- Move some of the member's priorities to a status (actioned, expired, dormant).
UPDATE user_priorities SET status = %(status)s
WHERE user_id = %(user_id)s AND id = ANY(%(ids)s::uuid[]) AND status IS DISTINCT FROM %(status)s;

-- name: priorities_delete
-- Remove some of the member's priorities (cancelled or vanished sources, fallen out of the top 10).
DELETE FROM user_priorities WHERE user_id = %(user_id)s AND id = ANY(%(ids)s::uuid[]);

-- name: priority_set_item_status
-- One item's priority for one member to a status, if it has one (an expert's ask once they answered).
UPDATE user_priorities SET status = %(status)s
WHERE user_id = %(user_id)s AND item_type = %(item_type)s AND item_id = %(item_id)s
  AND status IN ('active', 'presented', 'clarifying');

-- name: priorities_delete_items
-- Remove every member's priority for these items (siblings paused or cancelled); returns whose lists changed.
DELETE FROM user_priorities
WHERE item_type = %(item_type)s AND item_id = ANY(%(ids)s::uuid[])
RETURNING user_id;

-- name: intro_sources_mark_dormant
-- Presented twice with no answer: the single-owner source rows become dormant too (agents.md §13).
WITH opportunities AS (
  UPDATE intro_opportunities SET status = 'dormant', dormant_at = %(now)s
  WHERE id = ANY(%(intro_opportunity_ids)s::uuid[]) AND status IN ('open', 'presented', 'clarifying')
  RETURNING id),
requests AS (
  UPDATE connection_requests SET status = 'dormant', dormant_at = %(now)s
  WHERE id = ANY(%(connection_request_ids)s::uuid[]) AND status IN ('open', 'presented', 'clarifying')
  RETURNING id)
SELECT (SELECT count(*) FROM opportunities) + (SELECT count(*) FROM requests) AS marked;

-- name: intro_opportunities_transition_siblings
-- Other connectors' opportunities for a prospect this member accepted (-> paused) or completed (-> cancelled); agents.md §6.
WITH mine AS (
  SELECT prospect_id, status FROM intro_opportunities
  WHERE connector_user_id = %(user_id)s AND prospect_id IS NOT NULL AND status IN ('accepted', 'completed')),
cancelled AS (
  UPDATE intro_opportunities AS o SET status = 'cancelled'
  FROM (SELECT DISTINCT prospect_id FROM mine WHERE status = 'completed') AS done
  WHERE o.prospect_id = done.prospect_id AND o.connector_user_id <> %(user_id)s
    AND o.status IN ('open', 'presented', 'clarifying', 'paused')
  RETURNING o.id, o.connector_user_id, o.status),
paused AS (
  UPDATE intro_opportunities AS o SET status = 'paused'
  FROM (SELECT DISTINCT prospect_id FROM mine WHERE status = 'accepted') AS taken
  WHERE o.prospect_id = taken.prospect_id AND o.connector_user_id <> %(user_id)s
    AND o.status IN ('open', 'presented', 'clarifying')
    AND o.id NOT IN (SELECT id FROM cancelled)
  RETURNING o.id, o.connector_user_id, o.status)
SELECT id, connector_user_id, status FROM cancelled
UNION ALL
SELECT id, connector_user_id, status FROM paused;

-- name: account_manager_schedule_reviews
-- The 6-hourly review: one review task per verified member with events since their watermark or a live priority past its expiry.
WITH due AS (
  SELECT u.id
  FROM users AS u
  LEFT JOIN account_manager_members AS m ON m.user_id = u.id
  WHERE u.verified AND NOT u.opted_out
    AND (EXISTS (SELECT 1 FROM events AS e
                  WHERE e.aggregate_type = 'user' AND e.aggregate_id = u.id
                    AND e.created_at > coalesce(m.events_read_until, '-infinity'::timestamptz)
                    AND e.created_by IS DISTINCT FROM %(own)s::text)
      OR EXISTS (SELECT 1 FROM user_priorities AS p
                  WHERE p.user_id = u.id AND p.status IN ('active', 'presented', 'clarifying')
                    AND p.expires_at IS NOT NULL AND p.expires_at <= %(now)s))
)
INSERT INTO agent_tasks (task_type, agent_type, user_id, scheduled_for, priority, context_json, created_by,
                         dedupe_key, max_retries)
SELECT %(task_type)s::text, %(agent_type)s::text, due.id, %(now)s, 'low', jsonb_build_object('trigger', 'scheduled'),
       %(own)s::text, %(task_type)s::text || ':' || due.id, %(max_retries)s
FROM due
ON CONFLICT (dedupe_key) WHERE status IN ('pending', 'processing') DO NOTHING
RETURNING user_id;

-- name: priorities_open_for_user
-- The member's top priorities that are not dormant, with their denormalised fields (decisions B9).
SELECT id, priority_rank, item_type, item_id, value_score, status, presentation_count, last_presented_at,
       item_summary, item_primary_name, item_secondary_name, item_context
  FROM user_priorities
 WHERE user_id = %(user_id)s
   AND status IN ('active', 'presented', 'clarifying')
   AND presentation_count <= 1
 ORDER BY priority_rank, created_at
 LIMIT %(limit)s;

-- name: priorities_cancel_for_items
-- The priority rows that present cancelled items (agents.md §4.3.9).
UPDATE user_priorities SET status = 'cancelled'
 WHERE item_type = %(item_type)s AND item_id = ANY(%(item_ids)s) AND status <> 'cancelled';

-- name: priorities_expire_for_community_request
-- Priorities that point at a finished community request or its responses expire.
UPDATE user_priorities
   SET status = 'expired'
 WHERE status NOT IN ('actioned', 'expired', 'cancelled')
   AND (item_id = %(request_id)s
        OR item_id IN (SELECT id FROM community_responses WHERE request_id = %(request_id)s));

-- name: priorities_mark_presented
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
