-- Benchmark seed queries for priorities and Account Manager state (bench/account_manager.py).

-- name: bench_seed_goals
-- One active stored goal for each member of the temp table m.
INSERT INTO user_priorities (user_id, priority_rank, item_type, item_id, status, content, expires_at,
                             created_at)
SELECT id, 1, 'goal', gen_random_uuid(), 'active',
       'We are working on ' || (%(cats)s::text[])[1 + n %% 8] || ' this quarter',
       now() + interval '60 days', now() - interval '3 days'
FROM m;

-- name: bench_seed_account_manager_members
-- Each member of m reviewed six hours ago, events read until a minute ago.
INSERT INTO account_manager_members (user_id, events_read_until, last_run_at, runs)
SELECT id, now() - interval '1 minute', now() - interval '6 hours', 1 FROM m;

-- name: bench_goals_and_unstored_texts
-- Stored goals, and member texts not yet stored as a priority (what the naive scorer reads).
SELECT user_id, item_id AS id, content, created_at FROM user_priorities WHERE item_type = 'goal'
UNION ALL
SELECT m.user_id, m.id, m.content, m.created_at FROM messages AS m
WHERE m.role = 'user' AND NOT EXISTS (SELECT 1 FROM user_priorities p WHERE p.item_id = m.id);
