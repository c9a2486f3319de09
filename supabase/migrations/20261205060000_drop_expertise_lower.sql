-- Drop users.expertise_lower, its GIN index and yp_lower_tags: nothing reads them.
--
-- community_match_experts compared expertise_lower until 20261205020000_expertise_words.sql; it
-- (and community_match_baseline) now read expertise_words, which holds every lower-cased tag too.
-- The stored generated column was still computed and its GIN index still maintained on every
-- write of a users row.

DROP INDEX IF EXISTS public.idx_users_expertise_lower;
ALTER TABLE public.users DROP COLUMN IF EXISTS expertise_lower;
DROP FUNCTION IF EXISTS public.yp_lower_tags(text[]);

SELECT public.yp_secure_public();
