-- Agent coordination tables: priorities, solution workflows, community requests and
-- responses, and the credit ledger with its balance view and cache trigger (decisions B8, B9;
-- platform §4, §5 migrations 011, 014, 017).

-- ---------------------------------------------------------------------------------------------
-- user_priorities (Account Manager output; Concierge context)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.user_priorities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  priority_rank integer NOT NULL CONSTRAINT user_priorities_rank_check CHECK (priority_rank >= 1),
  item_type varchar(50) NOT NULL,
  item_id uuid NOT NULL,
  value_score numeric(5, 2),
  status varchar(50) NOT NULL DEFAULT 'active'
    CONSTRAINT user_priorities_status_check CHECK (status IN (
      'active', 'presented', 'clarifying', 'actioned', 'expired', 'cancelled', 'dormant')),
  content text,
  metadata jsonb,
  presentation_count integer NOT NULL DEFAULT 0,
  last_presented_at timestamptz,
  item_summary text,
  item_primary_name varchar(255),
  item_secondary_name varchar(255),
  item_context text,
  item_metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  presented_at timestamptz,
  CONSTRAINT user_priorities_user_item_key UNIQUE (user_id, item_type, item_id)
);

CREATE INDEX idx_priorities_user_active ON public.user_priorities (user_id, status, priority_rank)
  WHERE status = 'active';
CREATE INDEX idx_priorities_item ON public.user_priorities (item_type, item_id);
CREATE INDEX idx_priorities_presentation ON public.user_priorities (user_id, presentation_count, last_presented_at);

CREATE TRIGGER update_user_priorities_updated_at
  BEFORE UPDATE ON public.user_priorities
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- solution_workflows (Solution Saga state machine; agents.md §9)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.solution_workflows (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  conversation_id uuid REFERENCES public.conversations (id) ON DELETE SET NULL,
  request_description text NOT NULL,
  category varchar(100),
  urgency varchar(20) NOT NULL DEFAULT 'medium'
    CONSTRAINT solution_workflows_urgency_check CHECK (urgency IN ('low', 'medium', 'high')),
  current_step varchar(100) NOT NULL DEFAULT 'initial_research',
  status varchar(50) NOT NULL DEFAULT 'in_progress'
    CONSTRAINT solution_workflows_status_check CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed')),
  perplexity_results jsonb,
  matched_innovators jsonb,
  community_insights jsonb,
  expert_recommendations jsonb,
  quality_threshold_met boolean NOT NULL DEFAULT false,
  last_decision_at timestamptz,
  next_action text,
  pending_tasks jsonb NOT NULL DEFAULT '[]'::jsonb,
  completed_tasks jsonb NOT NULL DEFAULT '[]'::jsonb,
  conversation_log jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);

CREATE INDEX idx_workflows_user ON public.solution_workflows (user_id, created_at DESC);
CREATE INDEX idx_workflows_status ON public.solution_workflows (status, current_step)
  WHERE status = 'in_progress';

CREATE TRIGGER update_solution_workflows_updated_at
  BEFORE UPDATE ON public.solution_workflows
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- community_requests / community_responses (Agent of Humans; agents.md §7-§8)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.community_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  requesting_agent_type varchar(50) NOT NULL,
  requesting_user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
  context_id uuid,
  context_type varchar(50),
  question text NOT NULL,
  category varchar(100),
  expertise_needed text[] NOT NULL DEFAULT '{}',
  target_user_ids uuid[] NOT NULL DEFAULT '{}',
  status varchar(50) NOT NULL DEFAULT 'open'
    CONSTRAINT community_requests_status_check CHECK (status IN (
      'open', 'presented', 'clarifying', 'dormant', 'declined', 'actioned', 'responses_received',
      'closed', 'cancelled', 'expired')),
  responses_count integer NOT NULL DEFAULT 0,
  -- 011_community_request_context
  requester_context text,
  desired_outcome varchar(50)
    CONSTRAINT community_requests_desired_outcome_check CHECK (desired_outcome IS NULL OR desired_outcome IN (
      'backchannel', 'introduction', 'quick_thoughts', 'ongoing_advice')),
  urgency varchar(20) NOT NULL DEFAULT 'medium'
    CONSTRAINT community_requests_urgency_check CHECK (urgency IN ('low', 'medium', 'high')),
  request_summary varchar(100),
  -- 017_priority_status_tracking
  presentation_count integer NOT NULL DEFAULT 0,
  last_presented_at timestamptz,
  dormant_at timestamptz,
  closed_loop_at timestamptz,
  closed_loop_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT (now() + interval '7 days')
);

CREATE INDEX idx_community_requests_open ON public.community_requests (category, created_at DESC)
  WHERE status = 'open';
CREATE INDEX idx_community_requests_expertise ON public.community_requests USING gin (expertise_needed);
CREATE INDEX idx_community_requests_expiry ON public.community_requests (expires_at)
  WHERE status IN ('open', 'presented', 'clarifying', 'responses_received');
CREATE INDEX idx_community_requests_requester ON public.community_requests (requesting_user_id, created_at DESC);
CREATE INDEX idx_community_requests_context ON public.community_requests (context_type, context_id);
CREATE INDEX idx_community_requests_dormant ON public.community_requests (dormant_at) WHERE status = 'dormant';
CREATE INDEX idx_community_requests_presentation ON public.community_requests (presentation_count, last_presented_at);

CREATE TRIGGER update_community_requests_updated_at
  BEFORE UPDATE ON public.community_requests
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE TABLE public.community_responses (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  request_id uuid NOT NULL REFERENCES public.community_requests (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,  -- the expert
  response_text text NOT NULL,
  verbatim_answer text,
  usefulness_score integer
    CONSTRAINT community_responses_usefulness_check CHECK (usefulness_score IS NULL OR usefulness_score BETWEEN 1 AND 10),
  impact_description text,
  credits_awarded integer NOT NULL DEFAULT 0,
  credited_at timestamptz,
  status varchar(50) NOT NULL DEFAULT 'provided'
    CONSTRAINT community_responses_status_check CHECK (status IN ('provided', 'rewarded', 'closed_loop')),
  closed_loop_at timestamptz,
  closed_loop_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_community_responses_request ON public.community_responses (request_id, created_at);
CREATE INDEX idx_community_responses_expert ON public.community_responses (user_id, created_at DESC);

CREATE TRIGGER update_community_responses_updated_at
  BEFORE UPDATE ON public.community_responses
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- credit_events: append-only ledger; the balance is the sum of processed rows (decisions B8)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.credit_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  event_type varchar(100) NOT NULL,
  amount integer NOT NULL,  -- negative = spending
  reference_type varchar(50) NOT NULL,
  reference_id uuid NOT NULL,
  idempotency_key varchar(255) NOT NULL CONSTRAINT credit_events_idempotency_key_key UNIQUE,
  description text,
  processed boolean NOT NULL DEFAULT false,
  processed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_credits_user ON public.credit_events (user_id, created_at DESC);
CREATE INDEX idx_credits_reference ON public.credit_events (reference_type, reference_id);
CREATE INDEX idx_credits_unprocessed ON public.credit_events (created_at) WHERE NOT processed;

-- Authoritative balance (security_invoker: the caller's privileges and RLS apply).
CREATE VIEW public.user_credit_balances WITH (security_invoker = true) AS
SELECT
  user_id,
  sum(amount)::bigint AS balance,
  count(*)::bigint AS transaction_count,
  max(created_at) AS last_transaction_at
FROM public.credit_events
WHERE processed = true
GROUP BY user_id;

-- users.credit_balance is a display cache, recomputed from the processed ledger rows.
CREATE OR REPLACE FUNCTION public.update_user_credit_cache()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  affected uuid;
BEGIN
  FOR affected IN
    SELECT DISTINCT u FROM unnest(ARRAY[
      CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN NEW.user_id END,
      CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN OLD.user_id END
    ]) AS u
    WHERE u IS NOT NULL
  LOOP
    UPDATE public.users
       SET credit_balance = (
         SELECT coalesce(sum(ce.amount), 0)
           FROM public.credit_events ce
          WHERE ce.user_id = affected AND ce.processed = true
       )
     WHERE id = affected;
  END LOOP;
  RETURN NULL;
END;
$$;

CREATE TRIGGER on_credit_event_processed
  AFTER INSERT ON public.credit_events
  FOR EACH ROW
  WHEN (NEW.processed = true)
  EXECUTE FUNCTION public.update_user_credit_cache();

CREATE TRIGGER on_credit_event_changed
  AFTER UPDATE OF processed, amount, user_id ON public.credit_events
  FOR EACH ROW
  WHEN (OLD.processed IS DISTINCT FROM NEW.processed
        OR (NEW.processed AND (OLD.amount IS DISTINCT FROM NEW.amount OR OLD.user_id IS DISTINCT FROM NEW.user_id)))
  EXECUTE FUNCTION public.update_user_credit_cache();

CREATE TRIGGER on_credit_event_deleted
  AFTER DELETE ON public.credit_events
  FOR EACH ROW
  WHEN (OLD.processed = true)
  EXECUTE FUNCTION public.update_user_credit_cache();

SELECT public.yp_secure_public();
