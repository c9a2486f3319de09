-- Backbone: consumer idempotency for Pub/Sub deliveries (decisions A4: every consumer is idempotent).
--
-- A consumer marks each delivery it handled in processed_deliveries inside the same transaction
-- as the handler's own writes, so a redelivery (Pub/Sub retry, or the dispatcher republishing
-- after a crash between publish and mark-processed) is recognised and acknowledged without
-- running the handler twice. The key is 'event:<event id>' for events and
-- 'task:<task id>:<claim token>' for task deliveries (a requeued task gets a new claim token and
-- is a new delivery).

CREATE TABLE IF NOT EXISTS public.processed_deliveries (
  consumer text NOT NULL,
  delivery_key text NOT NULL,
  kind varchar(10) NOT NULL
    CONSTRAINT processed_deliveries_kind_check CHECK (kind IN ('event', 'task', 'dead_letter')),
  outcome varchar(20) NOT NULL DEFAULT 'handled'
    CONSTRAINT processed_deliveries_outcome_check CHECK (outcome IN ('handled', 'dead_lettered')),
  message_id text,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, delivery_key)
);

CREATE INDEX IF NOT EXISTS idx_processed_deliveries_at ON public.processed_deliveries (processed_at);

COMMENT ON TABLE public.processed_deliveries IS
  'One row per Pub/Sub delivery a consumer has handled; written in the handler''s transaction.';

SELECT public.yp_secure_public();
