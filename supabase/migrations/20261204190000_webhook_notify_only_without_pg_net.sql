-- yp_webhook NOTIFYs only when pg_net does not take the call.
--
-- Until now yp_webhook() queued a NOTIFY on 'yp_webhook' on every call, and then also called
-- pg_net when pg_net exists and the target's URL and the signing secret are configured. In
-- production pg_net takes every call and nothing LISTENs: the NOTIFY reached no one. It was not
-- free. A transaction that has queued a NOTIFY takes, at commit, one heavyweight lock for the
-- whole cluster (PostgreSQL's async.c, PreCommit_Notify: LockSharedObject(DatabaseRelationId,
-- InvalidOid, 0, AccessExclusiveLock)) and holds it until its commit record is flushed. Every
-- transaction that inserts an outbound SMS, an event, a due task or a due queued message
-- notifies, so in production all of them committed one at a time behind that lock.
--
-- Now the NOTIFY is the fallback path: it is sent when pg_net is absent (the local stack, whose
-- relay LISTENs), when the target has no URL or the secret is missing (a Supabase project not yet
-- configured, as in `supabase start`), and when pg_net's call raised. The scheduler's sweeps stay
-- the backstop for a webhook that reaches no one (docs/backbone.md).

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

  -- pg_net present? (Looked up by name so this compiles and runs on plain Postgres.)
  IF EXISTS (
    SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'net' AND p.proname = 'http_post'
  ) THEN
    SELECT s.value INTO url FROM public.app_settings s WHERE s.key = 'webhook.' || target || '_url';
    SELECT s.value INTO secret FROM public.app_settings s WHERE s.key = 'webhook.signing_secret';
    IF coalesce(url, '') <> '' AND coalesce(secret, '') = '' THEN
      RAISE WARNING 'yp_webhook: % has a URL but webhook.signing_secret is not set; not calling it', target;
    ELSIF coalesce(url, '') <> '' THEN
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
        RETURN;  -- pg_net has it: no NOTIFY, so no cluster-wide lock at commit
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'yp_webhook: pg_net call for % failed: %', target, SQLERRM;
      END;
    END IF;
  END IF;

  PERFORM pg_notify('yp_webhook', '{"target": ' || to_json(target)::text || ', "body": ' || body_text || '}');
END;
$$;
