-- Community requests and what hangs off one request: the members waiting on it, the experts asked,
-- items for an operator, closure and the operators' report (agents.md §7, §8; decisions B18).
-- Read through shared.adapters.repositories.community_requests; answers are in community_responses.sql.

-- name: community_lock_category
-- Serialise de-duplication of requests in one category (two identical questions at once make one request).
SELECT pg_advisory_xact_lock(hashtextextended('community_request:' || coalesce(%(category)s::text, ''), 0));

-- name: community_find_duplicate
-- An open request in the same category with overlapping expertise, created within the window.
SELECT id, status, target_user_ids, question, category, expertise_needed
  FROM community_requests
 WHERE status = ANY(%(statuses)s)
   AND category IS NOT DISTINCT FROM %(category)s::text
   AND expertise_needed && %(expertise)s::text[]
   AND created_at > %(since)s
   AND expires_at > %(now)s
 ORDER BY created_at DESC
 LIMIT 1
 FOR UPDATE;

-- name: community_match_experts
-- Verified members whose expertise covers the request's tags, a tag being covered by the same tag
-- or by all of its words (yp_tag_words on both sides; overlap = the tags covered), with at least
-- min_share of the best overlap: not yet asked in the last day first, then most overlap, then
-- least recently asked.
WITH tags AS (
  SELECT lower(btrim(t)) AS tag, public.yp_tag_words(ARRAY[t]) AS all_words
    FROM unnest(%(expertise)s::text[]) AS t
), wanted AS MATERIALIZED (  -- each tag's own words, computed once, not once per candidate
  SELECT tag, coalesce(nullif(array_remove(all_words, tag), '{}'), ARRAY[tag]) AS words FROM tags
), matched AS (
  SELECT u.id, u.timezone, u.quiet_hours_start, u.quiet_hours_end,
         (SELECT count(*) FROM wanted w
           WHERE w.tag = ANY(u.expertise_words) OR u.expertise_words @> w.words)::int AS overlap
    FROM users u
   WHERE u.expertise_words && public.yp_tag_words(%(expertise)s::text[])
     AND u.verified
     AND NOT u.opted_out
     AND u.id <> ALL(%(exclude)s::uuid[])
), strong AS (
  SELECT * FROM matched WHERE overlap >= %(min_share)s::numeric * (SELECT max(overlap) FROM matched)
), recent AS (
  SELECT e.expert_user_id, array_agg(e.routed_at ORDER BY e.routed_at) AS asks, max(e.routed_at) AS last_asked_at
    FROM community_request_experts e
    JOIN strong m ON m.id = e.expert_user_id
   WHERE e.routed_at > %(now)s::timestamptz - interval '2 days'
   GROUP BY e.expert_user_id
)
SELECT m.id AS user_id, m.overlap,
       coalesce(r.asks, '{}') AS recent_asks,
       m.timezone, m.quiet_hours_start, m.quiet_hours_end
  FROM strong m
  LEFT JOIN recent r ON r.expert_user_id = m.id
 ORDER BY (r.last_asked_at > %(now)s::timestamptz - interval '1 day') NULLS FIRST, m.overlap DESC,
          r.last_asked_at NULLS FIRST, m.id
 LIMIT %(limit)s;

-- name: community_match_baseline
-- The bare index scan the matching query is measured against (bench.community).
SELECT id FROM users WHERE expertise_words && %(expertise)s::text[];

-- name: community_insert_request
-- A new community request (expires_at given by the caller: now + 7 days).
INSERT INTO community_requests (requesting_agent_type, requesting_user_id, context_id, context_type, question,
                                category, expertise_needed, target_user_ids, status, requester_context,
                                desired_outcome, urgency, request_summary, created_at, expires_at)
VALUES (%(requesting_agent_type)s, %(requesting_user_id)s, %(context_id)s, %(context_type)s, %(question)s,
        %(category)s, %(expertise_needed)s, %(target_user_ids)s, 'open', %(requester_context)s,
        %(desired_outcome)s, %(urgency)s, %(request_summary)s, %(now)s, %(expires_at)s)
RETURNING id, expires_at;

-- name: community_add_requester
-- Record a member whose question this request answers, per requesting agent (the same member can
-- wait through the Concierge and the Solution Saga); nothing if already on it through that agent.
INSERT INTO community_request_requesters (request_id, user_id, requesting_agent_type, context_id, context_type,
                                          question, source_event_id, created_at)
VALUES (%(request_id)s, %(user_id)s, %(requesting_agent_type)s, %(context_id)s, %(context_type)s,
        %(question)s, %(source_event_id)s, %(now)s)
ON CONFLICT DO NOTHING
RETURNING request_id;

-- name: community_insert_ask
-- Record that an expert was asked (the load cap counts these); nothing if already asked.
INSERT INTO community_request_experts (request_id, expert_user_id, routed_at, referred_by_user_id)
VALUES (%(request_id)s, %(expert_user_id)s, %(now)s, %(referred_by_user_id)s)
ON CONFLICT DO NOTHING
RETURNING expert_user_id;

-- name: community_add_targets
-- Add experts to the request's target_user_ids (a referral adds one).
UPDATE community_requests
   SET target_user_ids = ARRAY(SELECT DISTINCT unnest(target_user_ids || %(expert_ids)s::uuid[]))
 WHERE id = %(request_id)s;

-- name: community_lock_request
-- One request, locked for a state change.
SELECT id, requesting_agent_type, requesting_user_id, question, category, expertise_needed, target_user_ids,
       status, responses_count, created_at, expires_at
  FROM community_requests
 WHERE id = %(request_id)s
 FOR UPDATE;

-- name: community_requesters
-- The members (not cancelled) whose question a request answers.
SELECT user_id, requesting_agent_type, context_id, context_type, question
  FROM community_request_requesters
 WHERE request_id = %(request_id)s AND cancelled_at IS NULL
 ORDER BY created_at;

-- name: community_cancel_requester
-- A member withdraws their question from a request: through one requesting agent, or (NULL) all.
UPDATE community_request_requesters
   SET cancelled_at = %(now)s
 WHERE request_id = %(request_id)s AND user_id = %(user_id)s AND cancelled_at IS NULL
   AND (%(requesting_agent_type)s::text IS NULL OR requesting_agent_type = %(requesting_agent_type)s::text)
RETURNING user_id;

-- name: community_set_ask_status
-- The expert answered, passed or referred.
UPDATE community_request_experts
   SET status = %(status)s,
       responded_at = %(now)s,
       referral_name = coalesce(%(referral_name)s, referral_name),
       referred_user_id = coalesce(%(referred_user_id)s, referred_user_id)
 WHERE request_id = %(request_id)s AND expert_user_id = %(expert_user_id)s AND status = 'asked'
RETURNING status;

-- name: community_count_response
-- One more response: count it and move the request to responses_received.
UPDATE community_requests
   SET responses_count = responses_count + 1,
       status = CASE WHEN status IN ('open', 'presented', 'clarifying', 'dormant') THEN 'responses_received'
                     ELSE status END
 WHERE id = %(request_id)s
RETURNING responses_count, status;

-- name: community_insert_review
-- Something for an operator: a response to a finished request, a referral to nobody we know.
INSERT INTO community_operator_review (kind, request_id, user_id, detail, payload)
VALUES (%(kind)s, %(request_id)s, %(user_id)s, %(detail)s, %(payload)s)
RETURNING id;

-- name: community_due_for_closure
-- Open requests that are expired or have answers (the closure job decides which close), locked.
SELECT q.id, q.status, q.expires_at, q.responses_count,
       ARRAY(SELECT e.status FROM community_request_experts e WHERE e.request_id = q.id)::text[] AS ask_statuses
  FROM community_requests q
 WHERE q.status = ANY(%(statuses)s)
   AND (q.expires_at <= %(now)s OR q.responses_count > 0)
 ORDER BY q.expires_at
 LIMIT %(limit)s
 FOR UPDATE OF q SKIP LOCKED;

-- name: community_waiting_for_experts
-- Open, unexpired requests that have asked no expert yet (every match was in quiet hours or asked
-- that day, or nobody matched), oldest first, locked: the hourly job routes them again.
SELECT id, requesting_agent_type, requesting_user_id, question, category, expertise_needed, target_user_ids,
       status, responses_count, created_at, expires_at
  FROM community_requests
 WHERE status = ANY(%(statuses)s)
   AND expires_at > %(now)s
   AND cardinality(target_user_ids) = 0
   AND cardinality(expertise_needed) > 0
 ORDER BY created_at
 LIMIT %(limit)s
 FOR UPDATE SKIP LOCKED;

-- name: community_finish_request
-- Close or cancel a request, with the thank-you line for the experts.
UPDATE community_requests
   SET status = %(status)s, closed_loop_at = %(now)s, closed_loop_message = %(message)s
 WHERE id = %(request_id)s
RETURNING id, responses_count;

-- name: community_report
-- ops community: per day and category, requests, answered, median minutes to first answer, mean usefulness, credits paid.
WITH req AS (
  SELECT q.id, (q.created_at AT TIME ZONE 'UTC')::date AS day, coalesce(q.category, '-') AS category,
         q.created_at,
         (SELECT min(r.created_at) FROM community_responses r WHERE r.request_id = q.id) AS first_answer_at
    FROM community_requests q
   WHERE q.created_at > %(since)s
), resp AS (
  SELECT r.request_id, avg(r.usefulness_score) AS usefulness, sum(r.credits_awarded) AS credits,
         count(r.usefulness_score) AS scored
    FROM community_responses r
   GROUP BY r.request_id
)
SELECT req.day, req.category,
       count(*)::int AS requests,
       count(req.first_answer_at)::int AS answered,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM req.first_answer_at - req.created_at) / 60.0
       ) FILTER (WHERE req.first_answer_at IS NOT NULL) AS median_minutes_to_first_answer,
       (sum(resp.usefulness * resp.scored) / nullif(sum(resp.scored), 0))::float AS mean_usefulness,
       coalesce(sum(resp.credits), 0)::int AS credits_paid
  FROM req
  LEFT JOIN resp ON resp.request_id = req.id
 GROUP BY req.day, req.category
 ORDER BY req.day DESC, req.category;

-- name: community_report_over_cap
-- ops community: per day (UTC) and category, experts asked more often that day than the cap allows.
WITH asks AS (
  SELECT e.expert_user_id, (e.routed_at AT TIME ZONE 'UTC')::date AS day, coalesce(q.category, '-') AS category
    FROM community_request_experts e
    JOIN community_requests q ON q.id = e.request_id
   WHERE e.routed_at > %(since)s
), over AS (
  SELECT expert_user_id, day FROM asks GROUP BY expert_user_id, day HAVING count(*) > %(cap)s
)
SELECT a.day, a.category, count(DISTINCT a.expert_user_id)::int AS experts_over_cap
  FROM asks a
  JOIN over o ON o.expert_user_id = a.expert_user_id AND o.day = a.day
 GROUP BY a.day, a.category;

-- name: community_open_review
-- Operator items not yet resolved, oldest first.
SELECT id, kind, request_id, user_id, detail, created_at
  FROM community_operator_review
 WHERE resolved_at IS NULL
 ORDER BY created_at
 LIMIT %(limit)s;

-- name: community_questions
-- The whole question of each of these requests (a re-engagement asks an expert the question, not its 60-character summary).
SELECT id, question FROM community_requests WHERE id = ANY(%(ids)s::uuid[]);

-- name: community_requests_open_for_user
-- The community requests the member is still waiting on, newest first (agents.md §4.2): asked, or
-- joined as a duplicate of another member's, and not withdrawn (community_request_requesters, as
-- community_requests_own_open_for_user reads them). In the member's own words: a joined request's
-- summary is the other member's, so only the asker's own request carries one.
SELECT r.id, own.question, CASE WHEN r.requesting_user_id = %(user_id)s THEN r.request_summary END AS request_summary,
       r.category, r.status, r.created_at, cardinality(r.target_user_ids) AS experts_asked
  FROM (SELECT DISTINCT ON (q.request_id) q.request_id, q.question
          FROM community_request_requesters AS q
         WHERE q.user_id = %(user_id)s AND q.cancelled_at IS NULL
         ORDER BY q.request_id, q.created_at) AS own
  JOIN community_requests AS r ON r.id = own.request_id
 WHERE r.status IN ('open', 'presented', 'clarifying', 'responses_received')
 ORDER BY r.created_at DESC
 LIMIT %(limit)s;

-- name: community_requests_own_open_for_user
-- The member's own open requests they are still waiting on (by id, or those whose question or summary
-- matches), for cancel_community_request; the cancelling itself is community.cancel_request.
SELECT r.id, r.question, r.request_summary
  FROM community_requests AS r
 WHERE r.status IN ('open', 'presented', 'clarifying', 'responses_received')
   AND EXISTS (SELECT 1 FROM community_request_requesters AS q
                WHERE q.request_id = r.id AND q.user_id = %(user_id)s AND q.cancelled_at IS NULL
                  AND (r.id = %(request_id)s::uuid
                       OR (%(request_id)s::uuid IS NULL
                           AND (q.question ILIKE %(pattern)s OR r.question ILIKE %(pattern)s
                                OR coalesce(r.request_summary, '') ILIKE %(pattern)s))))
 ORDER BY r.created_at DESC;
