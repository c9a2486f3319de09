-- The stuck-SMS alert reads how long a row has been 'sending' (issue 15 §5).
--
-- claimed_at is the start of the current send lease, and reconciliation renews it each time it
-- takes a stranded row over. Measured from claimed_at, a row whose reconciliation can never
-- decide (Twilio's message list unreadable, no status callback) looked at most about two leases
-- old and never reached the alert's 15 minutes. sending_since is set once, when the row moves
-- pending -> sending, and is never renewed: the backlog's age counts from it.

ALTER TABLE public.messages ADD COLUMN IF NOT EXISTS sending_since timestamptz;

-- Rows in 'sending' before this migration: their lease start is the best we know.
UPDATE public.messages SET sending_since = coalesce(claimed_at, created_at)
WHERE status = 'sending' AND sending_since IS NULL;

COMMENT ON COLUMN public.messages.sending_since IS
  'When the row last moved pending -> sending (not renewed by reconciliation): how long it has been stuck.';
