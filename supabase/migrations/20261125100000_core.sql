-- Core schema: members, conversations, messages, the outbox tables (events, agent_tasks,
-- message_queue), send budgets, agent bookkeeping, webhook settings, and the triggers that
-- push work to the functions (pg_net in Supabase, NOTIFY + the local relay elsewhere).
--
-- Applies on plain PostgreSQL 15 with only the Supabase roles present (no auth schema, no
-- pg_net) and with `supabase db push`.

CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_net') THEN
    CREATE EXTENSION IF NOT EXISTS pg_net;
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Generic helpers
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION public.update_updated_at_column()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  phone_number varchar(20) NOT NULL UNIQUE
    CONSTRAINT users_phone_number_e164 CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  email varchar(255),
  email_verified boolean NOT NULL DEFAULT false,
  first_name varchar(100),
  last_name varchar(100),
  company varchar(255),
  title varchar(255),
  linkedin_url varchar(500),

  -- classification
  verified boolean NOT NULL DEFAULT false,
  innovator boolean NOT NULL DEFAULT false,
  expert_connector boolean NOT NULL DEFAULT false,
  expertise text[] NOT NULL DEFAULT '{}',

  -- agent assignment
  poc_agent_id varchar(50),
  poc_agent_type varchar(50) NOT NULL DEFAULT 'bouncer'
    CONSTRAINT users_poc_agent_type_check CHECK (poc_agent_type IN ('bouncer', 'concierge', 'innovator')),

  -- preferences
  quiet_hours_start time,
  quiet_hours_end time,
  timezone varchar(50),
  response_pattern jsonb,

  -- credits and status
  credit_balance integer NOT NULL DEFAULT 0,
  status_level varchar(50) DEFAULT 'member',

  -- referral (platform §5, 007)
  referred_by uuid REFERENCES public.users (id) ON DELETE SET NULL,
  name_dropped varchar(255),

  -- verification (decisions B10, B11): unguessable per-user token for verify-<token>@<domain>
  verification_token text NOT NULL UNIQUE DEFAULT encode(extensions.gen_random_bytes(16), 'hex'),

  -- opt-out (decisions B15)
  opted_out boolean NOT NULL DEFAULT false,
  opted_out_at timestamptz,

  -- phone-number changes (decisions B13)
  phone_number_history jsonb NOT NULL DEFAULT '[]'::jsonb
    CONSTRAINT users_phone_number_history_array CHECK (jsonb_typeof(phone_number_history) = 'array'),

  -- onboarding and operator approval (decisions B10)
  onboarding_completed_at timestamptz,
  approval_status varchar(20)
    CONSTRAINT users_approval_status_check
      CHECK (approval_status IS NULL OR approval_status IN ('pending', 'approved', 'rejected', 'on_hold')),

  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_active_at timestamptz
);

CREATE INDEX idx_users_verified ON public.users (verified);
CREATE INDEX idx_users_poc_agent ON public.users (poc_agent_type, verified);
CREATE INDEX idx_users_referred_by ON public.users (referred_by) WHERE referred_by IS NOT NULL;
CREATE INDEX idx_users_email_verified ON public.users (email_verified);
CREATE INDEX idx_users_email_lower ON public.users (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX idx_users_expertise ON public.users USING gin (expertise);
CREATE INDEX idx_users_approval_pending ON public.users (onboarding_completed_at)
  WHERE approval_status = 'pending';

CREATE TRIGGER update_users_updated_at
  BEFORE UPDATE ON public.users
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- conversations
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  phone_number varchar(20) NOT NULL,
  status varchar(50) NOT NULL DEFAULT 'active'
    CONSTRAINT conversations_status_check CHECK (status IN ('active', 'paused', 'completed', 'closed')),
  conversation_summary text,
  last_summary_message_id uuid,
  messages_since_summary integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_message_at timestamptz
);

CREATE INDEX idx_conversations_user ON public.conversations (user_id);
CREATE INDEX idx_conversations_phone ON public.conversations (phone_number);
CREATE INDEX idx_conversations_status ON public.conversations (status, updated_at);
-- At most one active conversation per user.
CREATE UNIQUE INDEX uq_conversations_one_active_per_user ON public.conversations (user_id)
  WHERE status = 'active';

CREATE TRIGGER update_conversations_updated_at
  BEFORE UPDATE ON public.conversations
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- messages
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES public.conversations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  role varchar(50) NOT NULL
    CONSTRAINT messages_role_check CHECK (role IN ('user', 'bouncer', 'concierge', 'innovator', 'system')),
  content text NOT NULL,
  direction varchar(20) NOT NULL
    CONSTRAINT messages_direction_check CHECK (direction IN ('inbound', 'outbound')),
  status varchar(50) NOT NULL
    CONSTRAINT messages_status_check CHECK (
      (direction = 'inbound' AND status = 'received')
      OR (direction = 'outbound' AND status IN (
        'pending', 'sending', 'queued', 'sent', 'delivered', 'failed', 'undelivered', 'blocked'))
    ),
  twilio_message_sid varchar(64) CONSTRAINT messages_twilio_message_sid_key UNIQUE,
  media_urls text[] NOT NULL DEFAULT '{}',
  num_segments integer CONSTRAINT messages_num_segments_check CHECK (num_segments IS NULL OR num_segments > 0),
  attempts integer NOT NULL DEFAULT 0,
  error_code integer,
  error_message text,
  sent_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  routed boolean NOT NULL DEFAULT true,
  message_queue_id uuid,
  sequence_id uuid,
  sequence_position integer,
  sequence_total integer,
  CONSTRAINT messages_sequence_check CHECK (
    sequence_id IS NULL
    OR (sequence_position >= 1 AND sequence_total >= 1 AND sequence_position <= sequence_total)
  )
);

CREATE INDEX idx_messages_conversation ON public.messages (conversation_id, created_at DESC);
CREATE INDEX idx_messages_user ON public.messages (user_id, created_at DESC);
-- Runaway guard and "texted us in the last 10 minutes" checks.
CREATE INDEX idx_messages_user_direction ON public.messages (user_id, direction, created_at DESC);
-- Sweep of outbound rows that were never handed to Twilio.
CREATE INDEX idx_messages_outbound_unsent ON public.messages (created_at)
  WHERE direction = 'outbound' AND status IN ('pending', 'sending');
CREATE INDEX idx_messages_queue ON public.messages (message_queue_id) WHERE message_queue_id IS NOT NULL;
CREATE INDEX idx_messages_sequence ON public.messages (sequence_id, sequence_position)
  WHERE sequence_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- events (transactional outbox)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_type varchar(100) NOT NULL,
  aggregate_id uuid,
  aggregate_type varchar(50),
  payload jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  processed boolean NOT NULL DEFAULT false,
  processed_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by varchar(100)
);

CREATE INDEX idx_events_type ON public.events (event_type, created_at DESC);
CREATE INDEX idx_events_aggregate ON public.events (aggregate_type, aggregate_id, created_at DESC);
CREATE INDEX idx_events_processed ON public.events (processed, created_at) WHERE NOT processed;
CREATE INDEX idx_events_created ON public.events (created_at DESC);
-- The dispatcher's claim: unprocessed events that are due.
CREATE INDEX idx_events_due ON public.events (next_attempt_at, created_at) WHERE NOT processed;

-- ---------------------------------------------------------------------------------------------
-- event_dead_letters (platform §2.3, decisions B6)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.event_dead_letters (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid,  -- the original event, for traceability; deliberately not a foreign key
  event_type varchar(100) NOT NULL,
  payload jsonb NOT NULL,
  error_message text NOT NULL,
  retry_count integer NOT NULL DEFAULT 0,
  original_created_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  source varchar(20) NOT NULL DEFAULT 'dispatcher'
    CONSTRAINT event_dead_letters_source_check CHECK (source IN ('dispatcher', 'pubsub', 'consumer')),
  topic text,
  consumer text,
  -- Pub/Sub message id of a dead-lettered delivery: a redelivered dead letter is recorded once.
  source_message_id text CONSTRAINT event_dead_letters_source_message_id_key UNIQUE,
  replayed_at timestamptz,
  replay_count integer NOT NULL DEFAULT 0
);

CREATE INDEX idx_dead_letters_event ON public.event_dead_letters (event_id);
CREATE INDEX idx_dead_letters_type ON public.event_dead_letters (event_type, created_at DESC);
CREATE INDEX idx_dead_letters_created ON public.event_dead_letters (created_at DESC);
CREATE INDEX idx_dead_letters_unreplayed ON public.event_dead_letters (created_at) WHERE replayed_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- agent_tasks (platform §3, decisions B7)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.agent_tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_type varchar(100) NOT NULL,
  agent_type varchar(50) NOT NULL,
  user_id uuid REFERENCES public.users (id) ON DELETE CASCADE,
  context_id uuid,
  context_type varchar(50),
  scheduled_for timestamptz NOT NULL DEFAULT now(),
  priority varchar(20) NOT NULL DEFAULT 'medium'
    CONSTRAINT agent_tasks_priority_check CHECK (priority IN ('urgent', 'high', 'medium', 'low')),
  status varchar(50) NOT NULL DEFAULT 'pending'
    CONSTRAINT agent_tasks_status_check
      CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  retry_count integer NOT NULL DEFAULT 0,
  max_retries integer NOT NULL DEFAULT 3,
  last_attempted_at timestamptz,
  context_json jsonb NOT NULL DEFAULT '{}'::jsonb,
  result_json jsonb,
  error_log text,
  created_by varchar(100),
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  claim_token uuid,
  lease_expires_at timestamptz,
  dedupe_key text,
  CONSTRAINT agent_tasks_retries_check CHECK (retry_count >= 0 AND max_retries >= 0)
);

CREATE INDEX idx_tasks_due ON public.agent_tasks (status, scheduled_for, priority) WHERE status = 'pending';
CREATE INDEX idx_tasks_agent ON public.agent_tasks (agent_type, status, scheduled_for);
CREATE INDEX idx_tasks_user ON public.agent_tasks (user_id, status);
CREATE INDEX idx_tasks_context ON public.agent_tasks (context_type, context_id);
CREATE INDEX idx_tasks_lease ON public.agent_tasks (lease_expires_at) WHERE status = 'processing';
CREATE UNIQUE INDEX uq_agent_tasks_dedupe_open ON public.agent_tasks (dedupe_key)
  WHERE status IN ('pending', 'processing');

-- ---------------------------------------------------------------------------------------------
-- message_queue (platform §1)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.message_queue (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  agent_id varchar(100) NOT NULL,
  message_data jsonb NOT NULL DEFAULT '{}'::jsonb,
  final_message text,
  scheduled_for timestamptz NOT NULL DEFAULT now(),
  priority varchar(20) NOT NULL DEFAULT 'medium'
    CONSTRAINT message_queue_priority_check CHECK (priority IN ('urgent', 'high', 'medium', 'low')),
  status varchar(50) NOT NULL DEFAULT 'queued'
    CONSTRAINT message_queue_status_check CHECK (status IN (
      'queued', 'approved', 'processing', 'sent', 'superseded', 'cancelled', 'failed')),
  superseded_by_message_id uuid REFERENCES public.message_queue (id) ON DELETE SET NULL,
  superseded_reason varchar(100),
  conversation_context_id uuid REFERENCES public.conversations (id) ON DELETE SET NULL,
  requires_fresh_context boolean NOT NULL DEFAULT false,
  can_delay boolean NOT NULL DEFAULT true,
  sequence_id uuid,
  sequence_position integer,
  sequence_total integer,
  sent_at timestamptz,
  delivered_message_id uuid REFERENCES public.messages (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT message_queue_sequence_check CHECK (
    sequence_id IS NULL
    OR (sequence_position >= 1 AND sequence_total >= 1 AND sequence_position <= sequence_total)
  )
);

CREATE INDEX idx_queue_user_pending ON public.message_queue (user_id, status, scheduled_for)
  WHERE status IN ('queued', 'approved');
CREATE INDEX idx_queue_due ON public.message_queue (status, scheduled_for, priority) WHERE status = 'approved';
-- What the orchestrator actually claims.
CREATE INDEX idx_queue_queued_due ON public.message_queue (scheduled_for) WHERE status = 'queued';
CREATE INDEX idx_queue_sequence ON public.message_queue (sequence_id, sequence_position)
  WHERE sequence_id IS NOT NULL;

ALTER TABLE public.messages
  ADD CONSTRAINT messages_message_queue_id_fkey
  FOREIGN KEY (message_queue_id) REFERENCES public.message_queue (id) ON DELETE SET NULL;

-- ---------------------------------------------------------------------------------------------
-- user_message_budget (decisions B1): one row per user per LOCAL date
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.user_message_budget (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  date date NOT NULL,
  messages_sent integer NOT NULL DEFAULT 0,
  last_message_at timestamptz,
  daily_limit integer NOT NULL DEFAULT 5,
  hourly_limit integer NOT NULL DEFAULT 2,
  quiet_hours_enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_message_budget_user_date_key UNIQUE (user_id, date),
  CONSTRAINT user_message_budget_limits_check
    CHECK (messages_sent >= 0 AND daily_limit >= 0 AND hourly_limit >= 0)
);

CREATE INDEX idx_budget_user_date ON public.user_message_budget (user_id, date DESC);

CREATE TRIGGER update_user_message_budget_updated_at
  BEFORE UPDATE ON public.user_message_budget
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- agent_instances, agent_actions_log (decisions A9)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.agent_instances (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_type varchar(50) NOT NULL,
  user_id uuid REFERENCES public.users (id) ON DELETE CASCADE,
  config_json jsonb,
  prompt_version varchar(50),
  status varchar(50) NOT NULL DEFAULT 'active'
    CONSTRAINT agent_instances_status_check CHECK (status IN ('active', 'inactive', 'terminated')),
  last_active_at timestamptz DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  terminated_at timestamptz
);

CREATE INDEX idx_instances_type_user ON public.agent_instances (agent_type, user_id);
CREATE INDEX idx_instances_active ON public.agent_instances (agent_type, status) WHERE status = 'active';

CREATE TABLE public.agent_actions_log (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_type varchar(50) NOT NULL,
  agent_instance_id uuid REFERENCES public.agent_instances (id) ON DELETE SET NULL,
  action_type varchar(100) NOT NULL,
  user_id uuid REFERENCES public.users (id) ON DELETE SET NULL,
  context_id uuid,
  context_type varchar(50),
  model varchar(100),
  input_tokens integer,
  output_tokens integer,
  cache_read_tokens integer,
  cache_write_tokens integer,
  cost_usd numeric(12, 6),
  latency_ms integer,
  input_data jsonb,
  output_data jsonb,
  error text,
  prompt_version varchar(50),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_log_agent_time ON public.agent_actions_log (agent_type, created_at DESC);
CREATE INDEX idx_log_user ON public.agent_actions_log (user_id, created_at DESC);
CREATE INDEX idx_log_cost ON public.agent_actions_log (created_at, cost_usd) WHERE cost_usd IS NOT NULL;
CREATE INDEX idx_log_user_action ON public.agent_actions_log (user_id, action_type, created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- app_settings: webhook URLs and the signing secret (never literals in SQL; decisions A7, C)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE public.app_settings (
  key text PRIMARY KEY,
  value text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER update_app_settings_updated_at
  BEFORE UPDATE ON public.app_settings
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- Webhooks: yp_webhook(target, body) -> pg_notify('yp_webhook', ...) always, and a signed
-- net.http_post when pg_net exists and the URL and secret are configured in app_settings.
-- ---------------------------------------------------------------------------------------------

-- X-Yachtparty-Signature value, exactly as shared/adapters/webhook_signing.sign computes it:
-- t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
CREATE OR REPLACE FUNCTION public.yp_webhook_signature(secret text, ts bigint, body text)
RETURNS text
LANGUAGE sql
IMMUTABLE
STRICT
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT 't=' || ts::text || ',v1=' || encode(
    extensions.hmac(convert_to(ts::text || '.' || body, 'UTF8'), convert_to(secret, 'UTF8'), 'sha256'),
    'hex'
  );
$$;

CREATE OR REPLACE FUNCTION public.yp_webhook(target text, body jsonb)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  -- The exact text that is signed, notified and sent: pg_net serialises a jsonb body with
  -- body::text, so the bytes the receiver sees are these bytes.
  body_text text := body::text;
  url text;
  secret text;
  ts bigint;
BEGIN
  IF target NOT IN ('sms_sender', 'event_dispatcher', 'task_sweeper', 'message_orchestrator') THEN
    RAISE EXCEPTION 'yp_webhook: unknown target %', target;
  END IF;

  PERFORM pg_notify('yp_webhook', '{"target": ' || to_json(target)::text || ', "body": ' || body_text || '}');

  -- pg_net present? (Looked up by name so this compiles and runs on plain Postgres.)
  IF NOT EXISTS (
    SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'net' AND p.proname = 'http_post'
  ) THEN
    RETURN;
  END IF;

  SELECT s.value INTO url FROM public.app_settings s WHERE s.key = 'webhook.' || target || '_url';
  SELECT s.value INTO secret FROM public.app_settings s WHERE s.key = 'webhook.signing_secret';
  IF coalesce(url, '') = '' THEN
    RETURN;
  END IF;
  IF coalesce(secret, '') = '' THEN
    RAISE WARNING 'yp_webhook: % has a URL but webhook.signing_secret is not set; not calling it', target;
    RETURN;
  END IF;

  ts := floor(extract(epoch FROM clock_timestamp()))::bigint;
  BEGIN
    EXECUTE 'SELECT net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
      USING url,
            body,
            jsonb_build_object(
              'Content-Type', 'application/json',
              'X-Yachtparty-Signature', public.yp_webhook_signature(secret, ts, body_text)
            ),
            5000;
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'yp_webhook: pg_net call for % failed: %', target, SQLERRM;
  END;
END;
$$;

-- Outbound pending message -> SMS sender, per row.
CREATE OR REPLACE FUNCTION public.yp_webhook_sms_sender()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  PERFORM public.yp_webhook(
    'sms_sender',
    jsonb_build_object('table', 'messages', 'type', 'INSERT', 'record_id', NEW.id::text)
  );
  RETURN NULL;
END;
$$;

CREATE TRIGGER yp_webhook_messages_outbound_pending
  AFTER INSERT ON public.messages
  FOR EACH ROW
  WHEN (NEW.direction = 'outbound' AND NEW.status = 'pending')
  EXECUTE FUNCTION public.yp_webhook_sms_sender();

-- Events inserted -> dispatcher, once per statement (bulk inserts fire one webhook).
CREATE OR REPLACE FUNCTION public.yp_webhook_event_dispatcher()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE NOT processed) THEN
    PERFORM public.yp_webhook('event_dispatcher', jsonb_build_object('table', 'events', 'type', 'INSERT'));
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER yp_webhook_events_insert
  AFTER INSERT ON public.events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.yp_webhook_event_dispatcher();

-- Due pending task inserted -> task sweeper, once per statement.
CREATE OR REPLACE FUNCTION public.yp_webhook_task_sweeper()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'pending' AND scheduled_for <= now()) THEN
    PERFORM public.yp_webhook('task_sweeper', jsonb_build_object('table', 'agent_tasks', 'type', 'INSERT'));
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER yp_webhook_agent_tasks_insert
  AFTER INSERT ON public.agent_tasks
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.yp_webhook_task_sweeper();

-- Queued message due now inserted -> orchestrator, once per statement.
CREATE OR REPLACE FUNCTION public.yp_webhook_message_orchestrator()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'queued' AND scheduled_for <= now()) THEN
    PERFORM public.yp_webhook(
      'message_orchestrator', jsonb_build_object('table', 'message_queue', 'type', 'INSERT')
    );
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER yp_webhook_message_queue_insert
  AFTER INSERT ON public.message_queue
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.yp_webhook_message_orchestrator();

-- ---------------------------------------------------------------------------------------------
-- notify_event(): NOTIFY 'agent_events' per event, small payload (no event payload body).
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION public.notify_event()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify(
    'agent_events',
    json_build_object(
      'id', NEW.id,
      'event_type', NEW.event_type,
      'aggregate_type', NEW.aggregate_type,
      'aggregate_id', NEW.aggregate_id
    )::text
  );
  RETURN NULL;
END;
$$;

CREATE TRIGGER on_event_created
  AFTER INSERT ON public.events
  FOR EACH ROW EXECUTE FUNCTION public.notify_event();

-- ---------------------------------------------------------------------------------------------
-- check_conversation_summary(): every 50 messages (decisions B12; constants
-- SUMMARY_EVERY_MESSAGES) a create_conversation_summary task, never two open at once.
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION public.check_conversation_summary()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  since integer;
BEGIN
  UPDATE public.conversations
     SET messages_since_summary = messages_since_summary + 1,
         last_message_at = greatest(coalesce(last_message_at, NEW.created_at), NEW.created_at)
   WHERE id = NEW.conversation_id
  RETURNING messages_since_summary INTO since;

  IF since IS NOT NULL AND since >= 50 THEN
    INSERT INTO public.agent_tasks (
      task_type, agent_type, user_id, context_id, context_type, scheduled_for, priority,
      context_json, created_by, dedupe_key
    ) VALUES (
      'create_conversation_summary', 'system', NEW.user_id, NEW.conversation_id, 'conversation', now(),
      'medium', jsonb_build_object('conversation_id', NEW.conversation_id),
      'conversation_summary_trigger', 'conversation_summary:' || NEW.conversation_id::text
    )
    ON CONFLICT (dedupe_key) WHERE status IN ('pending', 'processing') DO NOTHING;

    UPDATE public.conversations SET messages_since_summary = 0 WHERE id = NEW.conversation_id;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER on_message_count_check
  AFTER INSERT ON public.messages
  FOR EACH ROW EXECUTE FUNCTION public.check_conversation_summary();

-- ---------------------------------------------------------------------------------------------
-- handle_phone_number_change() (decisions B13): edits NEW, never UPDATEs users from here.
-- The reason defaults to 'user_update'; a caller may SET LOCAL yp.phone_change_reason.
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION public.handle_phone_number_change()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
  NEW.phone_number_history := coalesce(OLD.phone_number_history, '[]'::jsonb) || jsonb_build_array(
    jsonb_build_object(
      'phone_number', OLD.phone_number,
      'changed_at', now(),
      'changed_reason', coalesce(nullif(current_setting('yp.phone_change_reason', true), ''), 'user_update')
    )
  );

  UPDATE public.conversations
     SET status = 'closed'
   WHERE user_id = OLD.id
     AND status = 'active';

  RETURN NEW;
END;
$$;

CREATE TRIGGER on_phone_change
  BEFORE UPDATE OF phone_number ON public.users
  FOR EACH ROW
  WHEN (OLD.phone_number IS DISTINCT FROM NEW.phone_number)
  EXECUTE FUNCTION public.handle_phone_number_change();

-- ---------------------------------------------------------------------------------------------
-- Lock-down: RLS on every public table; anon and authenticated get nothing; service_role
-- bypasses RLS. Re-run at the end of every later migration (SELECT public.yp_secure_public()).
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION public.yp_secure_public()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t.relname);
  END LOOP;

  REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon, authenticated, PUBLIC;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM anon, authenticated, PUBLIC;
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM anon, authenticated, PUBLIC;
  GRANT ALL ON ALL TABLES IN SCHEMA public TO service_role;
  GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO service_role;
  GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO service_role;
END;
$$;

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated, PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO service_role;

SELECT public.yp_secure_public();
