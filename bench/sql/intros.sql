-- Benchmark seed queries for intro opportunities and connection requests (bench/account_manager.py).

-- name: bench_seed_intro_opportunities
-- One open intro opportunity for each member of the temp table m.
INSERT INTO intro_opportunities (connector_user_id, first_name, last_name, prospect_company,
                                 innovator_name, bounty_credits, connection_strength, created_at)
SELECT id, 'Pat', 'Lee' || n, 'Globex', 'Acme AI', 50, 'second_degree', now() - interval '5 days'
FROM m;

-- name: bench_seed_connection_requests
-- One connection request to each member m from the next member.
INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name,
                                 intro_context, vouched_by_user_ids, created_at)
SELECT m.id, r.id, 'Member ' || r.n, 'wants to compare notes on pricing', ARRAY[r.id],
       now() - interval '4 days'
FROM m JOIN m AS r ON r.n = (m.n %% %(members)s) + 1;
