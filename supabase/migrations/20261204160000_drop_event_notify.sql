-- Drop the per-event NOTIFY on 'agent_events' (platform.md §4: "nothing listens on that channel").
--
-- Every row inserted into events ran notify_event(): a PL/pgSQL call, a json_build_object and a
-- pg_notify that queued one notification per row (200 for a 200-row insert) for no reader.
-- Nothing LISTENs on 'agent_events': the event dispatcher is woken once per statement by the
-- webhook (yp_webhook_events_insert -> yp_webhook('event_dispatcher', ...)), and its own
-- minutely sweep (the scheduler's event-sweep job) catches anything that misses.

DROP TRIGGER IF EXISTS on_event_created ON public.events;
DROP FUNCTION IF EXISTS public.notify_event();
