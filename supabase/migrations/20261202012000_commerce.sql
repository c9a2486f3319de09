-- Innovator commerce (issue 13; agents.md §5, §14, §15; decisions A8, A11, B19).
--
-- prospect_upload_tokens: the link the Innovator's upload_prospects tool texts. The token itself
-- is never stored, only its SHA-256; it is single-use (used_at) and expires 24 h after creation.
-- A preview parks the validated rows on the token (preview_rows, preview_batch_id) until the
-- innovator confirms; confirming writes the prospects and marks the token used in one transaction.
--
-- credit_purchases: one row per Stripe Checkout Session the request_credit_funding tool created.
-- A paid checkout.session.completed credits the buyer's user through the ledger, keyed by the
-- session id; credit_events.reference_id (reference_type 'credit_purchase') is this row's id.
--
-- B19, one credit balance: the ledger (credit_events) is authoritative and users.credit_balance
-- is its cache. innovators.credits_balance was never written; it is dropped (docs/commerce.md).

CREATE TABLE public.prospect_upload_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  innovator_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  token_sha256 text NOT NULL CONSTRAINT prospect_upload_tokens_token_key UNIQUE
    CONSTRAINT prospect_upload_tokens_token_sha256_check CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  csrf_secret text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  preview_batch_id uuid,
  preview_rows jsonb,
  preview_file_name text,
  upload_batch_id uuid,  -- the batch written at confirmation
  rows_written integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT prospect_upload_tokens_used_check CHECK (
    (used_at IS NULL) = (upload_batch_id IS NULL))
);

CREATE INDEX idx_prospect_upload_tokens_innovator
  ON public.prospect_upload_tokens (innovator_id, created_at DESC);

CREATE TRIGGER update_prospect_upload_tokens_updated_at
  BEFORE UPDATE ON public.prospect_upload_tokens
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();


CREATE TABLE public.credit_purchases (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  stripe_session_id text NOT NULL CONSTRAINT credit_purchases_session_key UNIQUE,
  credits integer NOT NULL CONSTRAINT credit_purchases_credits_check CHECK (credits > 0),
  amount_cents integer NOT NULL CONSTRAINT credit_purchases_amount_check CHECK (amount_cents > 0),
  currency varchar(3) NOT NULL,
  status varchar(20) NOT NULL DEFAULT 'open'
    CONSTRAINT credit_purchases_status_check CHECK (status IN ('open', 'paid', 'refused')),
  checkout_url text,
  stripe_event_id text,
  refused_reason text,
  credit_event_id uuid REFERENCES public.credit_events (id) ON DELETE RESTRICT,
  paid_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT credit_purchases_paid_check CHECK ((status = 'paid') = (credit_event_id IS NOT NULL))
);

CREATE INDEX idx_credit_purchases_user ON public.credit_purchases (user_id, created_at DESC);

CREATE TRIGGER update_credit_purchases_updated_at
  BEFORE UPDATE ON public.credit_purchases
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

ALTER TABLE public.innovators DROP COLUMN credits_balance;

SELECT public.yp_secure_public();
