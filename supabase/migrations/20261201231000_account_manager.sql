-- The Account Manager (issue 10; agents.md §6, §13; decisions B9).
--
-- account_manager_members: one row per member the Account Manager has run for. It holds the
-- watermark (the creation time of the last of the member's events a run has read, so the next run
-- and the 6-hourly review read only what is newer) and when and why it last ran. A run claims
-- the member with a transaction-scoped advisory lock, so two runs of one member never interleave.
--
-- user_priorities gains how each score was made (score_source, score_fingerprint): an LLM-scored
-- item whose content has not changed keeps its score, so the review re-scores only what is new.

CREATE TABLE public.account_manager_members (
  user_id uuid PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
  events_read_until timestamptz,  -- NULL: no event read yet
  last_run_at timestamptz,
  last_trigger varchar(50),
  runs integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER update_account_manager_members_updated_at
  BEFORE UPDATE ON public.account_manager_members
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.user_priorities
  ADD COLUMN score_source varchar(20)
    CONSTRAINT user_priorities_score_source_check
      CHECK (score_source IS NULL OR score_source IN ('llm', 'rules', 'fallback', 'fixed')),
  ADD COLUMN score_fingerprint text,
  ADD COLUMN score_reason text,
  ADD COLUMN scored_at timestamptz;

-- The review's "expiring items" probe.
CREATE INDEX idx_priorities_expiring ON public.user_priorities (user_id, expires_at)
  WHERE status IN ('active', 'presented', 'clarifying') AND expires_at IS NOT NULL;

-- Community requests are matched to an expert through target_user_ids (agents.md §6).
CREATE INDEX idx_community_requests_targets ON public.community_requests USING gin (target_user_ids);

SELECT public.yp_secure_public();
