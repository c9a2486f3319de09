-- Concierge / Innovator re-engagement state (decisions B5, agents.md §4.8; branch reengage-render).
--
-- After 3 unanswered re-engagements within 90 days a member's re-engagement is paused until a
-- human resumes it (`python -m tools.ops reengagement resume <member>`). The pause is state, not
-- a count recomputed on every check: paused_at set means paused. Resuming clears paused_at and
-- sets resumed_at; only re-engagements sent after resumed_at count towards the next pause.

CREATE TABLE public.re_engagement_state (
  user_id uuid PRIMARY KEY REFERENCES public.users (id) ON DELETE CASCADE,
  paused_at timestamptz,  -- NULL: not paused
  pause_reason varchar(100),
  unanswered integer NOT NULL DEFAULT 0 CHECK (unanswered >= 0),
  resumed_at timestamptz,
  resumed_by varchar(100),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER update_re_engagement_state_updated_at
  BEFORE UPDATE ON public.re_engagement_state
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

CREATE INDEX idx_re_engagement_state_paused ON public.re_engagement_state (paused_at)
  WHERE paused_at IS NOT NULL;

-- The throttles read a member's re_engagement_message_sent rows through idx_log_user_action.

SELECT public.yp_secure_public();
