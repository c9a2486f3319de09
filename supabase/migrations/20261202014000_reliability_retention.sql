-- Reliability (issue 15 §4, platform §6.6): retention.
--
-- The daily `retention` job archives, then deletes, in small batches (each its own short
-- transaction, rows taken with SKIP LOCKED so no batch waits on a busy row):
--   processed events after 90 days, completed and failed tasks after 30 days, replayed dead
--   letters after 90 days, the agent action log after 1 year (these four into retention_archive);
--   delivered processed_deliveries after the Pub/Sub retention window and message history after
--   1 year (deleted: the marks are useless afterwards; history is purged, platform §6.6).
-- It never touches an unprocessed event, a pending or processing task, or an unreplayed dead
-- letter (nor the event or failed task such a dead letter would replay).

CREATE TABLE IF NOT EXISTS public.retention_archive (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source_table text NOT NULL
    CONSTRAINT retention_archive_source_check
      CHECK (source_table IN ('events', 'agent_tasks', 'event_dead_letters', 'agent_actions_log')),
  row_id uuid NOT NULL,
  row_data jsonb NOT NULL,
  row_created_at timestamptz,
  archived_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_retention_archive_row ON public.retention_archive (source_table, row_id);
CREATE INDEX IF NOT EXISTS idx_retention_archive_at ON public.retention_archive (archived_at);

COMMENT ON TABLE public.retention_archive IS
  'Rows the retention job removed from the hot tables, whole (to_jsonb), for audit and export.';

-- The retention scans: old rows first, by the time each rule counts from.
CREATE INDEX IF NOT EXISTS idx_events_processed_at ON public.events (processed_at) WHERE processed;
CREATE INDEX IF NOT EXISTS idx_tasks_finished ON public.agent_tasks (completed_at)
  WHERE status IN ('completed', 'failed');
CREATE INDEX IF NOT EXISTS idx_log_created ON public.agent_actions_log (created_at);
CREATE INDEX IF NOT EXISTS idx_messages_created ON public.messages (created_at);
CREATE INDEX IF NOT EXISTS idx_dead_letters_replayed ON public.event_dead_letters (replayed_at)
  WHERE replayed_at IS NOT NULL;

SELECT public.yp_secure_public();
