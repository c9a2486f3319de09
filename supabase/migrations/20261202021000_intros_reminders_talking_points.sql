-- Branch intros (issue 12): what the intro services need on the three flow tables.
-- intro_offers.introducee_accepted_at: when the offer moved to the connector (the 3-day reminder counts
--   from it, agents.md §12.4 step 3); reminded_at: the reminder was queued (once, guarded by IS NULL).
-- intro_opportunities.talking_points: the Intro agent's talking points for the connector (agents.md §10).
--   Kept on the opportunity rather than a separate intro_contexts table: they are one text per
--   opportunity, read with it, and die with it; a table would be a 1:1 join with no other column.

ALTER TABLE public.intro_offers
  ADD COLUMN introducee_accepted_at timestamptz,
  ADD COLUMN reminded_at timestamptz;

ALTER TABLE public.intro_opportunities
  ADD COLUMN talking_points text;

CREATE INDEX idx_intro_offers_reminder ON public.intro_offers (introducee_accepted_at)
  WHERE status = 'pending_connector_confirmation' AND reminded_at IS NULL;
CREATE INDEX idx_intro_opps_expiry ON public.intro_opportunities (expires_at)
  WHERE status IN ('open', 'presented', 'clarifying');
