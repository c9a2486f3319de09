-- Read models across aggregates for operators and alerts: outbound SMS health, LLM costs, backlogs.

-- name: ops_outbound_sms_health
-- Outbound SMS not yet handed to Twilio (pending/sending), how many are older than the sweep threshold, and today's blocked/failed.
SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')) AS unsent,
       count(*) FILTER (WHERE status IN ('pending', 'sending')
                          AND created_at < now() - %(stuck_after)s::interval) AS stuck,
       count(*) FILTER (WHERE status = 'blocked' AND created_at >= now() - interval '1 day') AS blocked_1d,
       count(*) FILTER (WHERE status IN ('failed', 'undelivered')
                          AND created_at >= now() - interval '1 day') AS failed_1d
  FROM messages
 WHERE direction = 'outbound';

-- name: ops_llm_cost_by_day
-- LLM spend per day and agent over the last N days, with the cached share of input tokens.
SELECT date_trunc('day', created_at)::date AS day, agent_type, count(*) AS calls,
       count(*) FILTER (WHERE error IS NOT NULL) AS failed,
       coalesce(sum(cost_usd), 0) AS usd,
       coalesce(sum(cache_read_tokens), 0)::float
         / nullif(sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0)
                      + coalesce(cache_write_tokens, 0)), 0) AS cached_share
  FROM agent_actions_log
 WHERE action_type = 'llm_call' AND created_at >= now() - make_interval(days => %(days)s)
 GROUP BY 1, 2
 ORDER BY 1 DESC, 2;

-- name: ops_llm_cost_per_inbound_message
-- All LLM spend of the last N days divided by the member messages routed to agents in that time.
SELECT (SELECT coalesce(sum(cost_usd), 0) FROM agent_actions_log
         WHERE action_type = 'llm_call' AND created_at >= now() - make_interval(days => %(days)s)) AS usd,
       (SELECT count(*) FROM messages
         WHERE role = 'user' AND direction = 'inbound' AND routed
           AND created_at >= now() - make_interval(days => %(days)s)) AS inbound;

-- name: ops_backlogs
-- Depth and oldest age (seconds, 0 when empty) of every backlog the alerts watch (platform.md §7.6); a sending SMS counts from when it moved to 'sending' (sending_since: a reconciler's lease renewal does not restart it).
SELECT 'events' AS backlog, count(*) AS depth,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float AS oldest_age_seconds
FROM events WHERE NOT processed
UNION ALL
SELECT 'agent_tasks', count(*),
       coalesce(extract(epoch FROM now() - min(coalesce(lease_expires_at, scheduled_for))), 0)::float
FROM agent_tasks
WHERE (status = 'pending' AND scheduled_for <= now())
   OR (status = 'processing' AND lease_expires_at < now())
UNION ALL
SELECT 'message_queue', count(*), coalesce(extract(epoch FROM now() - min(scheduled_for)), 0)::float
FROM message_queue WHERE status = 'queued' AND scheduled_for <= now()
UNION ALL
SELECT 'sms_sending', count(*),
       coalesce(extract(epoch FROM now() - min(coalesce(sending_since, claimed_at, created_at))), 0)::float
FROM messages WHERE direction = 'outbound' AND status = 'sending'
UNION ALL
SELECT 'sms_pending', count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float
FROM messages WHERE direction = 'outbound' AND status = 'pending';

-- name: ops_member_snapshot
-- Everything one member's turns can leave behind, as JSON lists (the member evals grade this final state): their events, community requests (asked by them, or asked of them), priorities, outbound messages, queued messages, turns, open tasks, intro rows they are part of, innovator profile, goal and credits.
SELECT
  (SELECT coalesce(jsonb_agg(jsonb_build_object('event_type', e.event_type, 'payload', e.payload,
                                                'created_by', e.created_by) ORDER BY e.created_at, e.id), '[]')
     FROM events e
    WHERE e.aggregate_id = %(user_id)s OR e.payload ->> 'requesting_user_id' = %(user_id)s::text
       OR e.payload ->> 'user_id' = %(user_id)s::text) AS events,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'status', r.status, 'question', r.question,
                                                'requesting_user_id', r.requesting_user_id,
                                                'desired_outcome', r.desired_outcome) ORDER BY r.created_at), '[]')
     FROM community_requests r
    WHERE r.requesting_user_id = %(user_id)s OR %(user_id)s = ANY(r.target_user_ids)) AS community_requests,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'request_id', c.request_id, 'status', c.status)
                             ORDER BY c.created_at), '[]')
     FROM community_responses c WHERE c.user_id = %(user_id)s) AS community_responses,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('item_type', p.item_type, 'item_id', p.item_id,
                                                'status', p.status, 'presentation_count', p.presentation_count)
                             ORDER BY p.priority_rank), '[]')
     FROM user_priorities p WHERE p.user_id = %(user_id)s) AS priorities,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('role', m.role, 'content', m.content) ORDER BY m.created_at, m.id), '[]')
     FROM messages m WHERE m.user_id = %(user_id)s AND m.direction = 'outbound') AS outbound,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('agent_id', q.agent_id, 'status', q.status,
                                                'final_message', q.final_message, 'message_data', q.message_data)
                             ORDER BY q.created_at, q.sequence_position), '[]')
     FROM message_queue q WHERE q.user_id = %(user_id)s) AS queued,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('path', t.path, 'status', t.status, 'decision', t.decision,
                                                'tools', t.tools, 'guard_violations', t.guard_violations)
                             ORDER BY t.created_at), '[]')
     FROM agent_turns t WHERE t.user_id = %(user_id)s) AS turns,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('task_type', k.task_type, 'agent_type', k.agent_type,
                                                'status', k.status) ORDER BY k.created_at), '[]')
     FROM agent_tasks k WHERE k.user_id = %(user_id)s) AS tasks,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'intro_opportunity', 'id', o.id, 'status', o.status)), '[]')
     FROM intro_opportunities o WHERE %(user_id)s IN (o.connector_user_id, o.innovator_id))
  || (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'connection_request', 'id', c.id, 'status', c.status)), '[]')
        FROM connection_requests c WHERE %(user_id)s IN (c.introducee_user_id, c.requestor_user_id))
  || (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'intro_offer', 'id', f.id, 'status', f.status)), '[]')
        FROM intro_offers f WHERE %(user_id)s IN (f.offering_user_id, f.introducee_user_id)) AS intros,
  (SELECT to_jsonb(i) - 'user_id' FROM innovators i WHERE i.user_id = %(user_id)s) AS innovator,
  u.goal, u.verified, u.poc_agent_type, u.credit_balance
  FROM users u
 WHERE u.id = %(user_id)s;

-- name: ops_alert_signals
-- The platform §7.6 signals the database can show: SMS outcomes and failures (an opt-out, 21610, is no failure) in a window, LLM spend, dearest call and p99 latency, dead letters recorded recently.
SELECT (SELECT count(*) FROM messages
         WHERE direction = 'outbound' AND attempts > 0
           AND status IN ('queued', 'sent', 'delivered', 'failed', 'undelivered')
           AND coalesce(sent_at, created_at) >= now() - %(delivery_window)s::interval) AS sms_outcomes,
       (SELECT count(*) FROM messages
         WHERE direction = 'outbound' AND attempts > 0 AND status IN ('failed', 'undelivered')
           AND error_code IS DISTINCT FROM %(opt_out_code)s
           AND coalesce(sent_at, created_at) >= now() - %(delivery_window)s::interval) AS sms_failures,
       (SELECT coalesce(sum(cost_usd), 0)::float FROM agent_actions_log
         WHERE action_type = 'llm_call' AND created_at >= now() - %(cost_window)s::interval) AS llm_cost_usd,
       (SELECT max(cost_usd)::float FROM agent_actions_log
         WHERE action_type = 'llm_call' AND created_at >= now() - %(cost_window)s::interval) AS llm_max_call_usd,
       (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms)::float FROM agent_actions_log
         WHERE action_type = 'llm_call' AND latency_ms > 0
           AND created_at >= now() - %(latency_window)s::interval) AS llm_p99_ms,
       (SELECT count(*) FROM event_dead_letters
         WHERE created_at >= now() - %(dead_letter_window)s::interval) AS dead_letters_recent;

-- name: ops_member_export
-- What we hold about one member, for their data request (agents.md §2.3, CCPA/GDPR access): their profile,
-- every message to and from them, the questions they asked, the answers they gave, their credit ledger,
-- and the introductions they are part of (kind and status only: the other side's identity is theirs).
SELECT
  jsonb_build_object('phone_number', u.phone_number, 'first_name', u.first_name, 'last_name', u.last_name,
                     'email', u.email, 'company', u.company, 'title', u.title, 'linkedin_url', u.linkedin_url,
                     'timezone', u.timezone, 'goal', u.goal, 'expertise', u.expertise, 'verified', u.verified,
                     'opted_out', u.opted_out, 'credit_balance', u.credit_balance, 'joined_at', u.created_at)
    AS profile,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('at', m.created_at, 'direction', m.direction, 'from', m.role,
                                                'content', m.content, 'status', m.status)
                             ORDER BY m.created_at, m.id), '[]')
     FROM messages m WHERE m.user_id = u.id) AS messages,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('at', r.created_at, 'question', r.question, 'status', r.status)
                             ORDER BY r.created_at, r.id), '[]')
     FROM community_requests r WHERE r.requesting_user_id = u.id) AS questions_asked,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('at', c.created_at, 'answer', c.response_text, 'status', c.status,
                                                'credits_awarded', c.credits_awarded)
                             ORDER BY c.created_at, c.id), '[]')
     FROM community_responses c WHERE c.user_id = u.id) AS answers_given,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('at', e.created_at, 'type', e.event_type, 'amount', e.amount,
                                                'description', e.description)
                             ORDER BY e.created_at, e.id), '[]')
     FROM credit_events e WHERE e.user_id = u.id AND e.processed) AS credits,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'intro_opportunity', 'status', o.status, 'at', o.created_at)), '[]')
     FROM intro_opportunities o WHERE u.id IN (o.connector_user_id, o.innovator_id))
  || (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'connection_request', 'status', c.status, 'at', c.created_at)), '[]')
        FROM connection_requests c WHERE u.id IN (c.introducee_user_id, c.requestor_user_id))
  || (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', 'intro_offer', 'status', f.status, 'at', f.created_at)), '[]')
        FROM intro_offers f WHERE u.id IN (f.offering_user_id, f.introducee_user_id)) AS introductions
  FROM users u
 WHERE u.id = %(user_id)s;
