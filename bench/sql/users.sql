-- Benchmark seed queries for members (bench/account_manager.py, bench/community.py).
-- Loaded by shared.adapters.postgres.load_query_dir through bench/queries.py; never by the product.

-- name: bench_seed_members
-- Verified concierge members +1415nnnnnnn, two expertise tags each from %(cats)s.
INSERT INTO users (phone_number, first_name, last_name, company, title, verified, poc_agent_type,
                   approval_status, expertise)
SELECT '+1415' || lpad(g::text, 7, '0'), 'Member' || g, 'Bench', 'Company ' || (g %% 997), 'VP',
       true, 'concierge', 'approved',
       ARRAY[(%(cats)s::text[])[1 + g %% 8], (%(cats)s::text[])[1 + (g * 7) %% 8]]
FROM generate_series(1, %(members)s) AS g;

-- name: bench_number_members
-- A session temp table m (id, n): every member numbered by phone number.
CREATE TEMP TABLE m AS SELECT id, row_number() OVER (ORDER BY phone_number) AS n FROM users;

-- name: bench_numbered_member_ids
-- The ids of the temp table m, in order.
SELECT id FROM m ORDER BY n;

-- name: bench_copy_members
-- COPY of generated members (bench/community.py writes the rows).
COPY users (phone_number, expertise, timezone, verified, poc_agent_type, quiet_hours_start,
            quiet_hours_end) FROM STDIN;

-- name: bench_some_member_ids
-- Any %(limit)s member ids.
SELECT id FROM users LIMIT %(limit)s;

-- name: bench_verified_members
-- Every verified member with what the naive scorer reads of them.
SELECT id, expertise, title, company FROM users WHERE verified;

-- name: bench_number_news_members
-- A session temp table news (id, phone_number, n) of the given members.
CREATE TEMP TABLE news AS SELECT u.id, u.phone_number, row_number() OVER () AS n
FROM users AS u WHERE u.id = ANY(%(users)s);

-- name: bench_analyze
-- Fresh planner statistics after a bulk seed.
ANALYZE;

-- name: bench_analyze_users
-- Fresh planner statistics for users after a bulk seed.
ANALYZE users;

-- name: bench_written_counts
-- What the inbound webhook benchmark wrote.
SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM messages) AS messages,
       (SELECT count(*) FROM events) AS events;
