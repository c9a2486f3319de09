-- Branch intros2 (issue 12): "no, we didn't meet" at the +7-day check-in (decisions B20) is recorded, not
-- just logged. The row moves to 'cancelled' (a terminal status all three flows already allow, agents.md
-- §12) and keeps why here, with when and who said so; a completed intro has intro_completed_at instead.

ALTER TABLE public.intro_opportunities
  ADD COLUMN not_met_reason text,
  ADD COLUMN not_met_at timestamptz,
  ADD COLUMN not_met_reported_by uuid REFERENCES public.users (id) ON DELETE SET NULL;
ALTER TABLE public.intro_offers
  ADD COLUMN not_met_reason text,
  ADD COLUMN not_met_at timestamptz,
  ADD COLUMN not_met_reported_by uuid REFERENCES public.users (id) ON DELETE SET NULL;
ALTER TABLE public.connection_requests
  ADD COLUMN not_met_reason text,
  ADD COLUMN not_met_at timestamptz,
  ADD COLUMN not_met_reported_by uuid REFERENCES public.users (id) ON DELETE SET NULL;
