-- Innovators, innovator-uploaded prospects, LinkedIn research prospects and the three intro
-- flows (intro_opportunities, connection_requests, intro_offers): agents.md §11-§14,
-- platform §5 migrations 010, 012, 014, 015, 016, 017.

-- ---------------------------------------------------------------------------------------------
-- innovators (extended profile of a users row with innovator = true)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.innovators (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL CONSTRAINT innovators_user_id_key UNIQUE
    REFERENCES public.users (id) ON DELETE CASCADE,
  company_name varchar(255) NOT NULL,
  solution_description text,
  categories text[] NOT NULL DEFAULT '{}',
  target_customer_profile text,
  video_url varchar(500),
  credits_balance integer NOT NULL DEFAULT 0,
  warm_intro_bounty integer NOT NULL DEFAULT 25
    CONSTRAINT innovators_warm_intro_bounty_check CHECK (warm_intro_bounty >= 0),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_innovators_categories ON public.innovators USING gin (categories);
CREATE INDEX idx_innovators_active ON public.innovators (active, created_at DESC);

CREATE TRIGGER update_innovators_updated_at
  BEFORE UPDATE ON public.innovators
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- prospects: people an innovator uploaded who are not (yet) members (010, soft delete per 015)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.prospects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text,
  phone_number text,
  linkedin_url text,
  first_name text,
  last_name text,
  company text,
  title text,
  innovator_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  uploaded_at timestamptz NOT NULL DEFAULT now(),
  upload_source varchar(50)
    CONSTRAINT prospects_upload_source_check CHECK (upload_source IS NULL OR upload_source IN (
      'csv', 'manual', 'linkedin_scrape')),
  upload_batch_id uuid,
  status text NOT NULL DEFAULT 'pending'
    CONSTRAINT prospects_status_check CHECK (status IN (
      'pending', 'contacted', 'converted', 'declined', 'invalid', 'deleted')),
  converted_to_user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
  converted_at timestamptz,
  prospect_notes text,
  target_solution_categories text[],
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT at_least_one_contact_method CHECK (
    nullif(btrim(email), '') IS NOT NULL
    OR nullif(btrim(phone_number), '') IS NOT NULL
    OR nullif(btrim(linkedin_url), '') IS NOT NULL
  )
);

CREATE INDEX idx_prospects_innovator ON public.prospects (innovator_id, uploaded_at DESC);
CREATE INDEX idx_prospects_status ON public.prospects (status);
CREATE INDEX idx_prospects_email ON public.prospects (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX idx_prospects_phone ON public.prospects (phone_number) WHERE phone_number IS NOT NULL;
CREATE INDEX idx_prospects_linkedin ON public.prospects (lower(linkedin_url)) WHERE linkedin_url IS NOT NULL;
CREATE INDEX idx_prospects_batch ON public.prospects (upload_batch_id) WHERE upload_batch_id IS NOT NULL;
CREATE INDEX idx_prospects_converted ON public.prospects (converted_to_user_id)
  WHERE converted_to_user_id IS NOT NULL;

CREATE TRIGGER update_prospects_updated_at
  BEFORE UPDATE ON public.prospects
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Exact contact matching for prospect upgrade, oldest upload first. E-mail and LinkedIn URL are
-- compared case-insensitively (a trailing slash on the URL is ignored); the phone exactly (E.164).
CREATE OR REPLACE FUNCTION public.find_matching_prospects(
  p_email text,
  p_phone text,
  p_linkedin text,
  p_status text DEFAULT 'pending'
)
RETURNS SETOF public.prospects
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
  SELECT p.*
    FROM public.prospects p
   WHERE p.status = p_status
     AND (
       (nullif(btrim(p_email), '') IS NOT NULL AND lower(p.email) = lower(btrim(p_email)))
       OR (nullif(btrim(p_phone), '') IS NOT NULL AND p.phone_number = btrim(p_phone))
       OR (nullif(btrim(p_linkedin), '') IS NOT NULL
           AND rtrim(lower(p.linkedin_url), '/') = rtrim(lower(btrim(p_linkedin)), '/'))
     )
   ORDER BY p.uploaded_at ASC, p.id;
$$;

-- ---------------------------------------------------------------------------------------------
-- linkedin_research_prospects: the 003 research table, renamed (Social Butterfly, agents.md §11)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.linkedin_research_prospects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(255) NOT NULL,
  company varchar(255),
  title varchar(255),
  linkedin_url varchar(500),
  email varchar(255),
  mutual_connections jsonb,
  last_researched_at timestamptz,
  users_researching uuid[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_research_prospects_linkedin ON public.linkedin_research_prospects (linkedin_url);

-- ---------------------------------------------------------------------------------------------
-- intro_opportunities: "can you introduce X to Y?" asked of a connector (agents.md §12.2)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.intro_opportunities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  connector_user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  innovator_id uuid REFERENCES public.users (id) ON DELETE SET NULL,  -- the innovator's users row
  prospect_id uuid REFERENCES public.prospects (id) ON DELETE RESTRICT,
  first_name varchar(255) NOT NULL,
  last_name varchar(255) NOT NULL,
  prospect_company varchar(255),
  prospect_title varchar(255),
  prospect_linkedin_url varchar(500),
  innovator_name varchar(255),
  intro_context text,
  bounty_credits integer NOT NULL DEFAULT 50
    CONSTRAINT intro_opportunities_bounty_check CHECK (bounty_credits >= 0),
  status varchar(50) NOT NULL DEFAULT 'open'
    CONSTRAINT intro_opportunities_status_check CHECK (status IN (
      'open', 'presented', 'clarifying', 'accepted', 'rejected', 'declined', 'paused', 'actioned',
      'completed', 'cancelled', 'expired', 'dormant')),
  connector_response text,
  connection_strength varchar(50) NOT NULL DEFAULT 'unknown'
    CONSTRAINT intro_opportunities_connection_strength_check CHECK (connection_strength IN (
      'first_degree', 'second_degree', 'third_degree', 'unknown')),
  feed_item_id uuid,
  intro_email varchar(255),
  intro_scheduled_at timestamptz,
  intro_completed_at timestamptz,
  presentation_count integer NOT NULL DEFAULT 0,
  last_presented_at timestamptz,
  dormant_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);

CREATE INDEX idx_intro_opps_connector ON public.intro_opportunities (connector_user_id, status);
CREATE INDEX idx_intro_opps_innovator ON public.intro_opportunities (innovator_id, status);
CREATE INDEX idx_intro_opps_prospect ON public.intro_opportunities (prospect_id);
CREATE INDEX idx_intro_opps_strength ON public.intro_opportunities (connection_strength) WHERE status = 'open';
CREATE INDEX idx_intro_opps_dormant ON public.intro_opportunities (dormant_at) WHERE status = 'dormant';
CREATE INDEX idx_intro_opps_presentation ON public.intro_opportunities (presentation_count, last_presented_at);
-- One opportunity per (connector, prospect, innovator): creating it twice is a no-op.
CREATE UNIQUE INDEX uq_intro_opps_connector_prospect ON public.intro_opportunities
  (connector_user_id, prospect_id, innovator_id) NULLS NOT DISTINCT
  WHERE prospect_id IS NOT NULL;

CREATE TRIGGER update_intro_opportunities_updated_at
  BEFORE UPDATE ON public.intro_opportunities
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- connection_requests: "do you want to meet X?" asked of the introducee (agents.md §12.3)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.connection_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  introducee_user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  requestor_user_id uuid REFERENCES public.users (id) ON DELETE CASCADE,
  requestor_prospect_id uuid REFERENCES public.prospects (id) ON DELETE RESTRICT,
  requestor_name varchar(255) NOT NULL,
  requestor_company varchar(255),
  requestor_title varchar(255),
  requestor_linkedin_url varchar(500),
  intro_context text NOT NULL,
  vouched_by_user_ids uuid[] NOT NULL DEFAULT '{}',
  bounty_credits integer NOT NULL DEFAULT 0
    CONSTRAINT connection_requests_bounty_check CHECK (bounty_credits >= 0),
  requestor_credits_spent integer NOT NULL DEFAULT 0,
  status varchar(50) NOT NULL DEFAULT 'open'
    CONSTRAINT connection_requests_status_check CHECK (status IN (
      'open', 'presented', 'clarifying', 'accepted', 'rejected', 'declined', 'actioned', 'completed',
      'cancelled', 'expired', 'dormant')),
  introducee_response text,
  feed_item_id uuid,
  intro_email varchar(255),
  intro_completed_at timestamptz,
  presentation_count integer NOT NULL DEFAULT 0,
  last_presented_at timestamptz,
  dormant_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT (now() + interval '30 days'),
  CONSTRAINT connection_requests_requestor_check
    CHECK (requestor_user_id IS NOT NULL OR requestor_prospect_id IS NOT NULL)
);

CREATE INDEX idx_connection_requests_introducee ON public.connection_requests (introducee_user_id, status);
CREATE INDEX idx_connection_requests_requestor ON public.connection_requests (requestor_user_id, status);
CREATE INDEX idx_connection_requests_prospect ON public.connection_requests (requestor_prospect_id)
  WHERE requestor_prospect_id IS NOT NULL;
CREATE INDEX idx_connection_requests_expiry ON public.connection_requests (expires_at)
  WHERE status IN ('open', 'presented', 'clarifying');
CREATE INDEX idx_connection_requests_dormant ON public.connection_requests (dormant_at) WHERE status = 'dormant';
CREATE INDEX idx_connection_requests_presentation ON public.connection_requests (presentation_count, last_presented_at);

CREATE TRIGGER update_connection_requests_updated_at
  BEFORE UPDATE ON public.connection_requests
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- intro_offers: a user volunteers an intro; two steps (agents.md §12.4). A nomination
-- (context_type 'nomination', agents.md §2.5) may not have an introducee yet.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.intro_offers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  offering_user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  introducee_user_id uuid REFERENCES public.users (id) ON DELETE CASCADE,
  prospect_name varchar(255) NOT NULL,
  prospect_company varchar(255),
  prospect_title varchar(255),
  prospect_context text,
  context_type varchar(50) NOT NULL
    CONSTRAINT intro_offers_context_type_check CHECK (context_type IN (
      'community_request', 'connection_request', 'spontaneous', 'nomination')),
  context_id uuid,
  status varchar(50) NOT NULL DEFAULT 'pending_introducee_response'
    CONSTRAINT intro_offers_status_check CHECK (status IN (
      'pending_introducee_response', 'introducee_declined', 'pending_connector_confirmation',
      'connector_declined', 'confirmed', 'completed', 'expired', 'cancelled')),
  introducee_response text,
  connector_confirmation text,
  bounty_credits integer NOT NULL DEFAULT 0
    CONSTRAINT intro_offers_bounty_check CHECK (bounty_credits >= 0),
  intro_email varchar(255),
  intro_completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT (now() + interval '14 days'),
  CONSTRAINT intro_offers_introducee_check
    CHECK (introducee_user_id IS NOT NULL OR context_type = 'nomination')
);

CREATE INDEX idx_intro_offers_offering ON public.intro_offers (offering_user_id, status);
CREATE INDEX idx_intro_offers_introducee ON public.intro_offers (introducee_user_id, status);
CREATE INDEX idx_intro_offers_context ON public.intro_offers (context_type, context_id);
CREATE INDEX idx_intro_offers_expiry ON public.intro_offers (expires_at)
  WHERE status IN ('pending_introducee_response', 'pending_connector_confirmation');

CREATE TRIGGER update_intro_offers_updated_at
  BEFORE UPDATE ON public.intro_offers
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

SELECT public.yp_secure_public();
