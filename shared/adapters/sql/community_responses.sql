-- Experts' answers to community requests: recorded once, scored once, paid once, closed with the
-- request (agents.md §8.7-8.12; decisions B8, B18). Read through
-- shared.adapters.repositories.community_responses.

-- name: community_responses_add
-- The expert's answer: the summary and the exact words; nothing if they answered before.
INSERT INTO community_responses (request_id, user_id, response_text, verbatim_answer, created_at)
VALUES (%(request_id)s, %(user_id)s, %(response_text)s, %(verbatim_answer)s, %(now)s)
ON CONFLICT (request_id, user_id) DO NOTHING
RETURNING id;

-- name: community_responses_of
-- An expert's response on a request.
SELECT id FROM community_responses WHERE request_id = %(request_id)s AND user_id = %(user_id)s;

-- name: community_responses_lock
-- A response with its request, locked for scoring and reward.
SELECT r.id, r.request_id, r.user_id, r.response_text, r.verbatim_answer, r.usefulness_score,
       r.impact_description, r.credits_awarded, r.status, r.scored_by, q.question, q.category,
       q.requesting_agent_type, u.first_name AS expert_first_name
  FROM community_responses r
  JOIN community_requests q ON q.id = r.request_id
  JOIN users u ON u.id = r.user_id
 WHERE r.id = %(response_id)s
 FOR UPDATE OF r;

-- name: community_responses_score
-- Store a usefulness score and impact description, once.
UPDATE community_responses
   SET usefulness_score = %(score)s, impact_description = %(impact)s, scored_by = %(scored_by)s,
       scored_at = %(now)s
 WHERE id = %(response_id)s AND usefulness_score IS NULL
RETURNING id;

-- name: community_responses_reward
-- The response was paid: record the credits and move it to rewarded.
UPDATE community_responses
   SET credits_awarded = %(credits)s, credited_at = %(now)s, status = 'rewarded'
 WHERE id = %(response_id)s AND status = 'provided'
RETURNING id;

-- name: community_responses_close_for_request
-- Every response of a finished request moves to closed_loop.
UPDATE community_responses
   SET status = 'closed_loop', closed_loop_at = %(now)s
 WHERE request_id = %(request_id)s AND status <> 'closed_loop';
