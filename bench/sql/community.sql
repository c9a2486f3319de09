-- Benchmark seed queries for community requests (bench/account_manager.py).

-- name: bench_seed_community_requests
-- %(asks)s open asks to each member m from the next member, on one of %(cats)s.
INSERT INTO community_requests (requesting_agent_type, requesting_user_id, question, category,
                                expertise_needed, target_user_ids, created_at, expires_at)
SELECT 'concierge', r.id,
       'Question ' || k || ' from member ' || r.n || ': how do you approach '
         || (%(cats)s::text[])[1 + (m.n + k) %% 8] || ' at a 40-person company?',
       (%(cats)s::text[])[1 + (m.n + k) %% 8],
       ARRAY[(%(cats)s::text[])[1 + (m.n + k) %% 8]], ARRAY[m.id],
       now() - interval '1 day', now() + interval '6 days'
FROM m JOIN m AS r ON r.n = (m.n %% %(members)s) + 1 CROSS JOIN generate_series(1, %(asks)s) AS k;

-- name: bench_seed_news_requests
-- One new security ask to each member of the temp table news.
INSERT INTO community_requests (requesting_agent_type, requesting_user_id, question, category,
                                expertise_needed, target_user_ids, expires_at)
SELECT 'concierge', (SELECT id FROM users LIMIT 1),
       'Who has negotiated a SOC 2 scope down with an enterprise buyer?', 'security',
       ARRAY['security'], ARRAY[news.id], now() + interval '7 days'
FROM news;

-- name: bench_open_asks_by_target
-- Every open ask, once per member it is routed to.
SELECT t.user_id, r.id, r.question, r.category, r.expertise_needed, r.urgency, r.created_at
FROM community_requests AS r CROSS JOIN LATERAL unnest(r.target_user_ids) AS t(user_id)
WHERE r.status = 'open' AND r.expires_at > now();
