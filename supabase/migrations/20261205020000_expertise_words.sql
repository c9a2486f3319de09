-- Experts match by the words of their expertise, not only by whole tags.
--
-- community_match_experts compared whole lower-cased tags: a member whose expertise is
-- "accounts payable automation" was never asked a question tagged "accounts", "payable",
-- "automation" (how the Solution Saga and the offline Concierge tag a question), nor one tagged
-- "AP automation software". Found on the local stack: such a question reached no expert at all.
--
-- yp_tag_words keeps each whole tag and adds its words (3 characters or more, without a few
-- words that name no field). community_match_experts counts the request's tags an expert covers
-- (the same tag, or all of its words) and keeps the candidates with at least half the best count
-- (COMMUNITY_MIN_OVERLAP_SHARE).

CREATE OR REPLACE FUNCTION public.yp_tag_words(tags text[])
RETURNS text[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(array_agg(DISTINCT w), '{}'::text[])
    FROM (
      SELECT lower(btrim(t)) AS w FROM unnest(tags) AS t
      UNION
      SELECT p FROM unnest(tags) AS t,
             regexp_split_to_table(lower(t), '[^a-z0-9+#&]+') AS p
       WHERE length(p) >= 3
         AND p NOT IN ('and', 'the', 'for', 'with', 'from', 'our', 'your', 'software', 'platform',
                       'platforms', 'tool', 'tools', 'solution', 'solutions', 'vendor', 'vendors',
                       'company', 'companies', 'team', 'teams', 'services', 'service')
    ) AS words
   WHERE w <> '';
$$;

ALTER TABLE public.users
  ADD COLUMN IF NOT EXISTS expertise_words text[] GENERATED ALWAYS AS (public.yp_tag_words(expertise)) STORED;

CREATE INDEX IF NOT EXISTS idx_users_expertise_words ON public.users USING gin (expertise_words);

COMMENT ON COLUMN public.users.expertise_words IS
  'yp_tag_words(expertise): each lower-cased tag and its words; what community_match_experts compares.';

SELECT public.yp_secure_public();
