-- Reliability (issue 15 §1): the sender's claim is a lease.
--
-- claimed_at is set when a sender moves a row pending -> sending. A row still 'sending' once
-- SMS_SEND_LEASE has passed is stranded (its sender died between the claim and recording
-- Twilio's answer); the sweep reconciles it before anything is resent (docs/sms.md).

ALTER TABLE public.messages ADD COLUMN IF NOT EXISTS claimed_at timestamptz;

-- Rows claimed before this migration have no lease start: their creation time stands in.
UPDATE public.messages SET claimed_at = created_at WHERE status = 'sending' AND claimed_at IS NULL;

CREATE INDEX IF NOT EXISTS idx_messages_sending_lease ON public.messages (claimed_at)
  WHERE direction = 'outbound' AND status = 'sending';

COMMENT ON COLUMN public.messages.claimed_at IS
  'When the sender last claimed this row (pending -> sending): the start of its send lease.';
