-- Innovators: the company side of a member approved as an innovator, and their intros' progress.

-- name: innovators_insert
-- The innovators row for a user approved as an innovator (once).
INSERT INTO innovators (user_id, company_name)
VALUES (%(user_id)s, %(company_name)s)
ON CONFLICT (user_id) DO NOTHING
RETURNING id;

-- name: innovators_profile
-- The innovator row of a member, as the Innovator agent sees it (agents.md §5).
SELECT company_name, solution_name, solution_description, categories, target_customer_profile,
       pricing_model, differentiation, warm_intro_bounty, active
  FROM innovators WHERE user_id = %(user_id)s;

-- name: innovators_update_profile
-- update_innovator_profile: the given fields of the member's own innovators row; nulls keep a value.
UPDATE innovators
   SET solution_name = coalesce(%(solution_name)s, solution_name),
       solution_description = coalesce(%(solution_description)s, solution_description),
       target_customer_profile = coalesce(%(target_customer_profile)s, target_customer_profile),
       pricing_model = coalesce(%(pricing_model)s, pricing_model),
       differentiation = coalesce(%(differentiation)s, differentiation)
 WHERE user_id = %(user_id)s
RETURNING id;

-- name: innovators_intro_progress
-- check_intro_progress: the innovator's intro opportunities and connection requests, counted by stage.
SELECT kind,
       count(*) FILTER (WHERE status IN ('open', 'presented', 'clarifying')) AS pending,
       count(*) FILTER (WHERE status IN ('accepted', 'actioned')) AS accepted,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status IN ('rejected', 'declined')) AS declined,
       count(*) AS total
  FROM (
        SELECT 'intro_opportunities' AS kind, status FROM intro_opportunities WHERE innovator_id = %(user_id)s
        UNION ALL
        SELECT 'connection_requests' AS kind, status FROM connection_requests
         WHERE requestor_user_id = %(user_id)s
       ) AS intros
 GROUP BY kind
 ORDER BY kind;

-- name: innovators_match_need
-- The Solution Saga's search of the innovators table (agents.md §9): active innovators whose
-- categories include the request's (case-insensitive), or whose company or solution mentions one
-- of its terms as a word (terms are regex-escaped by the caller); most categories in common first,
-- then most of the request's terms named (matched_terms).
SELECT i.id, i.user_id, i.company_name, i.solution_name, i.solution_description, i.categories,
       c.overlap, t.matched_terms
  FROM innovators i
  JOIN users u ON u.id = i.user_id
 CROSS JOIN LATERAL (
       SELECT cardinality(ARRAY(SELECT lower(x) FROM unnest(i.categories) AS x
                                INTERSECT SELECT unnest(%(categories)s::text[]))) AS overlap) AS c
 CROSS JOIN LATERAL (
       SELECT count(*) AS matched_terms FROM unnest(%(terms)s::text[]) AS w
        WHERE i.company_name ~* ('\m' || w || '\M')
           OR coalesce(i.solution_name, '') ~* ('\m' || w || '\M')
           OR coalesce(i.solution_description, '') ~* ('\m' || w || '\M')) AS t
 WHERE i.active
   AND i.user_id <> %(user_id)s
   AND (c.overlap > 0 OR t.matched_terms > 0)
 ORDER BY c.overlap DESC, t.matched_terms DESC, i.created_at
 LIMIT %(limit)s;
