-- Community routing and the credit ledger's operator trail (issue 9; agents.md §7, §8, §15;
-- decisions B8, B18, B19).
--
-- community_requests has one requesting_user_id. A duplicate question within 7 days is absorbed
-- by the open request, so every member who asked is a row of community_request_requesters, and
-- each of them gets the answer. Every ask of an expert is a row of community_request_experts:
-- the load cap (one ask per expert per local day) counts them, the closure job reads whether
-- every asked expert has answered, and "pass" / "ask <name>" are recorded there.
-- Responses that cannot be accepted (closed, cancelled or expired request) and referrals to
-- nobody we know go to community_operator_review instead of being dropped or guessed.

CREATE TABLE IF NOT EXISTS public.community_request_requesters (
  request_id uuid NOT NULL REFERENCES public.community_requests (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  requesting_agent_type varchar(50) NOT NULL,
  context_id uuid,
  context_type varchar(50),
  question text NOT NULL,
  source_event_id uuid,  -- the community.request_needed event that brought this requester
  cancelled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, user_id)
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_community_requesters_event
  ON public.community_request_requesters (source_event_id) WHERE source_event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_community_requesters_user
  ON public.community_request_requesters (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS public.community_request_experts (
  request_id uuid NOT NULL REFERENCES public.community_requests (id) ON DELETE CASCADE,
  expert_user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  routed_at timestamptz NOT NULL DEFAULT now(),
  status varchar(20) NOT NULL DEFAULT 'asked'
    CONSTRAINT community_request_experts_status_check CHECK (status IN ('asked', 'answered', 'passed', 'referred')),
  responded_at timestamptz,
  referred_by_user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,  -- asked because of a referral
  referral_name text,  -- "ask Dana Kim": what the expert named
  referred_user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,  -- who that resolved to, if anyone
  PRIMARY KEY (request_id, expert_user_id)
);

CREATE INDEX IF NOT EXISTS idx_community_experts_load
  ON public.community_request_experts (expert_user_id, routed_at DESC);

CREATE TABLE IF NOT EXISTS public.community_operator_review (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind varchar(30) NOT NULL
    CONSTRAINT community_operator_review_kind_check CHECK (kind IN ('late_response', 'unresolved_referral')),
  request_id uuid REFERENCES public.community_requests (id) ON DELETE CASCADE,
  user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
  detail text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolved_by varchar(200)
);

CREATE INDEX IF NOT EXISTS idx_community_review_open
  ON public.community_operator_review (created_at) WHERE resolved_at IS NULL;

-- One response per expert per request: a repeated record call returns the first row.
CREATE UNIQUE INDEX IF NOT EXISTS idx_community_responses_one_per_expert
  ON public.community_responses (request_id, user_id);

-- Who scored a response: 'llm' or 'operator:<name>' (no credit without a score, issue 9).
ALTER TABLE public.community_responses ADD COLUMN IF NOT EXISTS scored_by varchar(200);
ALTER TABLE public.community_responses ADD COLUMN IF NOT EXISTS scored_at timestamptz;

-- Operator grants and revokes are recorded with who made them (the reason is the description).
ALTER TABLE public.credit_events ADD COLUMN IF NOT EXISTS recorded_by varchar(200);

-- Expertise matches whatever case a tag was typed in: the matching query compares the lower-cased
-- tags, kept by the database next to what the member said, through this index.
CREATE OR REPLACE FUNCTION public.yp_lower_tags(tags text[])
RETURNS text[]
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(array_agg(lower(t)), '{}'::text[]) FROM unnest(tags) AS t;
$$;

ALTER TABLE public.users
  ADD COLUMN IF NOT EXISTS expertise_lower text[] GENERATED ALWAYS AS (public.yp_lower_tags(expertise)) STORED;

CREATE INDEX IF NOT EXISTS idx_users_expertise_lower ON public.users USING gin (expertise_lower);

-- The closure job's scan and the ops report.
CREATE INDEX IF NOT EXISTS idx_community_requests_created ON public.community_requests (created_at);

SELECT public.yp_secure_public();
