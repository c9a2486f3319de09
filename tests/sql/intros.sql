-- Test fixtures for the intro flow: rows the product has no writer for yet (intro opportunities come
-- from the Innovator flow, not built), or rows a scenario needs in a past state (created days ago,
-- already presented). Loaded by the named-query adapter through tests/fixture_support.py; only the
-- test support modules run them (tests/unit/test_no_stray_sql.py checks both).

-- name: fixture_intro_opportunity
-- An intro opportunity for a connector, created at %(created_at)s.
INSERT INTO intro_opportunities (connector_user_id, innovator_id, prospect_id, first_name, last_name,
                                 prospect_company, innovator_name, bounty_credits, connection_strength,
                                 status, presentation_count, created_at)
VALUES (%(connector)s, %(innovator)s, %(prospect)s, 'Pat', 'Lee', 'Globex', 'Acme AI', %(bounty)s,
        %(strength)s, %(status)s, %(presentations)s, %(created_at)s)
RETURNING id;

-- name: fixture_connection_request
-- A connection request to %(introducee)s, created at %(created_at)s, open for 30 days.
INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name, requestor_company,
                                 intro_context, vouched_by_user_ids, requestor_credits_spent, status,
                                 presentation_count, created_at, expires_at)
VALUES (%(introducee)s, %(requestor)s, 'Sam Okafor', 'Initech', 'wants to talk treasury', %(vouchers)s,
        %(credits_spent)s, %(status)s, %(presentations)s, %(created_at)s,
        %(created_at)s + interval '30 days')
RETURNING id;

-- name: fixture_intro_offer
-- An intro offer to %(introducee)s, created at %(created_at)s, open for 14 days.
INSERT INTO intro_offers (offering_user_id, introducee_user_id, prospect_name, prospect_company,
                          context_type, status, bounty_credits, created_at, expires_at)
VALUES (%(offering)s, %(introducee)s, 'Jim Berg', 'Stark Logistics', %(context_type)s, %(status)s,
        %(bounty)s, %(created_at)s, %(created_at)s + interval '14 days')
RETURNING id;
