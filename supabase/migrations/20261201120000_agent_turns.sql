-- Conversational turns get tables built for them (issue 8 §2, §7).
--
-- * agent_turns: one row per committed turn of a point-of-contact agent. An inbound message is
--   answered when messages.answered_by_turn_id points at a turn; the turn framework reads that
--   marker (never agent_actions_log) to find what is left to answer. agent_actions_log keeps an
--   'agent_turn' audit row per turn, which nothing reads back.
-- * users.verification_requested_at: when the verification address was first handed out (set in
--   the transaction that emits user.verification.pending), instead of reading the outbox as state.
-- * agent_instances: one row per (agent, prompt version), registered at first use; every LLM
--   call row and every turn points at it.

-- ---------------------------------------------------------------------------------------------
-- agent_instances: one shared instance per (agent_type, prompt_version)
-- ---------------------------------------------------------------------------------------------

-- Duplicates (should there be any) fold into the oldest row before the unique index.
CREATE TEMP TABLE yp_instance_dupes ON COMMIT DROP AS
SELECT id, first_value(id) OVER (PARTITION BY agent_type, prompt_version ORDER BY created_at, id) AS keep
  FROM public.agent_instances
 WHERE user_id IS NULL AND prompt_version IS NOT NULL;

UPDATE public.agent_actions_log AS l SET agent_instance_id = d.keep
  FROM yp_instance_dupes AS d
 WHERE l.agent_instance_id = d.id AND d.id <> d.keep;

DELETE FROM public.agent_instances AS a
 USING yp_instance_dupes AS d
 WHERE a.id = d.id AND d.id <> d.keep;

DROP TABLE yp_instance_dupes;

CREATE UNIQUE INDEX IF NOT EXISTS agent_instances_version_key
  ON public.agent_instances (agent_type, prompt_version) WHERE user_id IS NULL;

-- ---------------------------------------------------------------------------------------------
-- agent_turns
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS public.agent_turns (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_type varchar(50) NOT NULL,
  agent_instance_id uuid REFERENCES public.agent_instances (id) ON DELETE SET NULL,
  prompt_version varchar(50),
  user_id uuid NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
  conversation_id uuid REFERENCES public.conversations (id) ON DELETE SET NULL,
  call_kind varchar(50) NOT NULL,
  status varchar(20) NOT NULL
    CONSTRAINT agent_turns_status_check CHECK (status IN ('answered', 'silent', 'error_reply', 'backfill')),
  path varchar(20) NOT NULL DEFAULT ''
    CONSTRAINT agent_turns_path_check CHECK (path IN ('', 'llm', 'fallback', 'template', 'graceful', 'backfill')),
  delivery varchar(10) NOT NULL DEFAULT 'none'
    CONSTRAINT agent_turns_delivery_check CHECK (delivery IN ('none', 'reply', 'queued')),
  decision jsonb,
  tools jsonb NOT NULL DEFAULT '[]'::jsonb,
  message_ids uuid[] NOT NULL DEFAULT '{}',
  queue_ids uuid[] NOT NULL DEFAULT '{}',
  guard_violations text[] NOT NULL DEFAULT '{}',
  error text,
  latency_ms integer,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_agent_turns_user ON public.agent_turns (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_agent_turns_instance ON public.agent_turns (agent_instance_id);

COMMENT ON TABLE public.agent_turns IS
  'One row per committed conversational turn; messages.answered_by_turn_id marks what it answered.';

ALTER TABLE public.messages
  ADD COLUMN IF NOT EXISTS answered_by_turn_id uuid REFERENCES public.agent_turns (id);

-- The turn's lookup: a user's routed inbound messages that no turn has answered yet.
CREATE INDEX IF NOT EXISTS idx_messages_unanswered
  ON public.messages (user_id, created_at, id)
  WHERE direction = 'inbound' AND routed AND answered_by_turn_id IS NULL;

ALTER TABLE public.users ADD COLUMN IF NOT EXISTS verification_requested_at timestamptz;

-- ---------------------------------------------------------------------------------------------
-- Backfill from what the previous code read: agent_actions_log 'agent_turn' rows and the outbox.
-- ---------------------------------------------------------------------------------------------

-- 1. Every audited turn becomes an agent_turns row with the same id.
INSERT INTO public.agent_turns (id, agent_type, agent_instance_id, prompt_version, user_id, conversation_id,
                                call_kind, status, path, delivery, decision, tools, guard_violations, error,
                                latency_ms, created_at)
SELECT l.id, l.agent_type, l.agent_instance_id, l.prompt_version, l.user_id,
       (SELECT c.id FROM public.conversations c WHERE c.id = l.context_id),
       coalesce(l.input_data ->> 'call_kind', 'decision'),
       CASE WHEN l.output_data ->> 'status' IN ('answered', 'silent', 'error_reply')
            THEN l.output_data ->> 'status' ELSE 'answered' END,
       CASE WHEN l.output_data ->> 'path' IN ('llm', 'fallback', 'template', 'graceful')
            THEN l.output_data ->> 'path' ELSE '' END,
       CASE WHEN jsonb_array_length(coalesce(l.output_data -> 'message_ids', '[]'::jsonb)) > 0
            THEN 'reply' ELSE 'none' END,
       l.output_data -> 'decision',
       coalesce(l.output_data -> 'tools', '[]'::jsonb),
       coalesce(ARRAY(SELECT jsonb_array_elements_text(l.output_data -> 'guard_violations')), '{}'),
       l.error, l.latency_ms, l.created_at
  FROM public.agent_actions_log AS l
 WHERE l.action_type = 'agent_turn' AND l.user_id IS NOT NULL
ON CONFLICT (id) DO NOTHING;

-- 2. Messages a turn named are answered by it.
UPDATE public.messages AS m
   SET answered_by_turn_id = l.id
  FROM public.agent_actions_log AS l
 WHERE l.action_type = 'agent_turn' AND l.user_id = m.user_id
   AND l.input_data -> 'message_ids' ? m.id::text
   AND m.direction = 'inbound' AND m.answered_by_turn_id IS NULL
   AND EXISTS (SELECT 1 FROM public.agent_turns t WHERE t.id = l.id);

-- 3. Messages the old watermark counted as answered (older than a later turn's answered_through)
--    are answered by the first such turn.
UPDATE public.messages AS m
   SET answered_by_turn_id = (
         SELECT l.id FROM public.agent_actions_log AS l
          WHERE l.action_type = 'agent_turn' AND l.user_id = m.user_id
            AND (l.output_data ->> 'answered_through')::timestamptz > m.created_at
            AND EXISTS (SELECT 1 FROM public.agent_turns t WHERE t.id = l.id)
          ORDER BY l.created_at, l.id LIMIT 1)
 WHERE m.direction = 'inbound' AND m.routed AND m.answered_by_turn_id IS NULL
   AND EXISTS (
         SELECT 1 FROM public.agent_actions_log AS l
          WHERE l.action_type = 'agent_turn' AND l.user_id = m.user_id
            AND (l.output_data ->> 'answered_through')::timestamptz > m.created_at);

-- 4. Users with no audited turn: what came before the last agent reply was answered. One
--    'backfill' turn per such user stands for those replies.
WITH stale AS (
  SELECT m.user_id, max(r.at) AS replied_at
    FROM public.messages AS m
    JOIN LATERAL (
      SELECT max(o.created_at) AS at FROM public.messages AS o
       WHERE o.user_id = m.user_id AND o.direction = 'outbound'
         AND o.role IN ('bouncer', 'concierge', 'innovator')
    ) AS r ON r.at IS NOT NULL AND m.created_at <= r.at
   WHERE m.direction = 'inbound' AND m.routed AND m.answered_by_turn_id IS NULL AND m.user_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM public.agent_turns t WHERE t.user_id = m.user_id)
   GROUP BY m.user_id
), turns AS (
  INSERT INTO public.agent_turns (agent_type, user_id, call_kind, status, path, created_at)
  SELECT coalesce(u.poc_agent_type, 'bouncer'), s.user_id, 'backfill', 'backfill', 'backfill', s.replied_at
    FROM stale AS s JOIN public.users AS u ON u.id = s.user_id
  RETURNING id, user_id, created_at
)
UPDATE public.messages AS m
   SET answered_by_turn_id = t.id
  FROM turns AS t
 WHERE m.user_id = t.user_id AND m.direction = 'inbound' AND m.routed
   AND m.answered_by_turn_id IS NULL AND m.created_at <= t.created_at;

-- 5. The verification address was requested when user.verification.pending was first written.
UPDATE public.users AS u
   SET verification_requested_at = e.first_at
  FROM (SELECT aggregate_id, min(created_at) AS first_at FROM public.events
         WHERE aggregate_type = 'user' AND event_type = 'user.verification.pending'
         GROUP BY aggregate_id) AS e
 WHERE e.aggregate_id = u.id AND u.verification_requested_at IS NULL;

SELECT public.yp_secure_public();
