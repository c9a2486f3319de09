-- community_requests: questions members put to the community (agents.md §4.2, §4.3.9).

-- name: community_requests_open_for_user
-- The community requests the member asked that are still open, newest first (agents.md §4.2).
SELECT id, question, request_summary, category, status, created_at
  FROM community_requests
 WHERE requesting_user_id = %(user_id)s AND status IN ('open', 'responses_received')
 ORDER BY created_at DESC
 LIMIT %(limit)s;

-- name: community_requests_cancel_for_user
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
