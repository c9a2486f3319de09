-- Test fixtures for community requests in a past state (created days ago, presented, closed).

-- name: fixture_community_request
-- A concierge ask of %(requester)s routed to %(experts)s, created at %(created_at)s, open for 7 days,
-- with its asker among its requesters, as community.route_request writes one.
WITH request AS (
    INSERT INTO community_requests (requesting_agent_type, requesting_user_id, question, category,
                                    expertise_needed, target_user_ids, status, presentation_count,
                                    created_at, expires_at)
    VALUES ('concierge', %(requester)s, %(question)s, %(category)s, %(expertise)s, %(experts)s, %(status)s,
            %(presentations)s, %(created_at)s, %(created_at)s + interval '7 days')
    RETURNING id, requesting_user_id, question, created_at
), requester AS (
    INSERT INTO community_request_requesters (request_id, user_id, requesting_agent_type, question, created_at)
    SELECT id, requesting_user_id, 'concierge', question, created_at FROM request
)
SELECT id FROM request;
