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
       cardinality(ARRAY(SELECT lower(c) FROM unnest(i.categories) AS c
                         INTERSECT SELECT unnest(%(categories)s::text[]))) AS overlap,
       (SELECT count(*) FROM unnest(%(terms)s::text[]) AS t
         WHERE i.company_name ~* ('\m' || t || '\M')
            OR coalesce(i.solution_name, '') ~* ('\m' || t || '\M')
            OR coalesce(i.solution_description, '') ~* ('\m' || t || '\M')) AS matched_terms
  FROM innovators i
  JOIN users u ON u.id = i.user_id
 WHERE i.active
   AND i.user_id <> %(user_id)s
   AND (ARRAY(SELECT lower(c) FROM unnest(i.categories) AS c) && %(categories)s::text[]
        OR EXISTS (SELECT 1 FROM unnest(%(terms)s::text[]) AS t
                    WHERE i.company_name ~* ('\m' || t || '\M')
                       OR coalesce(i.solution_name, '') ~* ('\m' || t || '\M')
                       OR coalesce(i.solution_description, '') ~* ('\m' || t || '\M')))
 ORDER BY overlap DESC, matched_terms DESC, i.created_at
 LIMIT %(limit)s;
