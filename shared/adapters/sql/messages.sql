-- The messages aggregate: inbound SMS, the one outbound path, the sender's transitions, delivery
-- callbacks, and what agents read back (decisions B14-B16).

-- name: messages_insert_inbound
-- Store one inbound SMS; a replayed MessageSid inserts nothing and returns no row.
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, twilio_message_sid,
                      media_urls, num_segments, routed)
VALUES (%(conversation_id)s, %(user_id)s, 'user', %(content)s, 'inbound', 'received', %(message_sid)s,
        %(media_urls)s, %(num_segments)s, %(routed)s)
ON CONFLICT (twilio_message_sid) DO NOTHING
RETURNING id;

-- name: messages_insert_system
-- An internal trigger (email verified, re-engagement check): role system, inbound, never sendable (B14).
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, routed)
VALUES (%(conversation_id)s, %(user_id)s, 'system', %(content)s, 'inbound', 'received', true)
RETURNING id, created_at;

-- name: messages_insert_outbound
-- One outbound SMS for the sender to deliver (decisions B14); the insert trigger calls the sender.
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, num_segments,
                      message_queue_id, sequence_id, sequence_position, sequence_total, routed)
VALUES (%(conversation_id)s, %(user_id)s, %(role)s, %(content)s, 'outbound', 'pending', %(num_segments)s,
        %(message_queue_id)s, %(sequence_id)s, %(sequence_position)s, %(sequence_total)s, true)
RETURNING id;

-- name: messages_recipient
-- The recipient of a message.
SELECT user_id FROM messages WHERE id = %(message_id)s;

-- name: messages_for_send
-- An outbound message with what the sender needs about its recipient (read after locking the recipient).
SELECT m.id, m.user_id, u.phone_number, u.opted_out, m.status, m.content, m.sequence_id, m.sequence_position
FROM messages m JOIN users u ON u.id = m.user_id
WHERE m.id = %(message_id)s AND m.direction = 'outbound';

-- name: messages_sequence_predecessor_unsent
-- True when an earlier part of the same sequence has not been handed to Twilio yet.
SELECT EXISTS (
  SELECT 1 FROM messages p
  WHERE p.sequence_id = %(sequence_id)s
    AND p.sequence_position < %(sequence_position)s
    AND p.status IN ('pending', 'sending')
) AS waiting;

-- name: messages_count_recent_outbound
-- Outbound SMS handed to (or being handed to) Twilio for this user since a point in time.
SELECT count(*) AS n FROM messages
WHERE user_id = %(user_id)s AND direction = 'outbound' AND id <> %(message_id)s
  AND status IN ('sending', 'queued', 'sent', 'delivered', 'undelivered')
  AND coalesce(sent_at, created_at) > %(since)s;

-- name: messages_claim_for_sending
-- Guarded transition: only one caller ever moves a pending message to 'sending'; claimed_at starts its lease, sending_since its time in 'sending' (never renewed).
UPDATE messages SET status = 'sending', attempts = attempts + 1, claimed_at = now(), sending_since = now()
WHERE id = %(message_id)s AND direction = 'outbound' AND status = 'pending'
RETURNING id, attempts, claimed_at;

-- name: messages_block
-- Never sent: the user opted out, or the runaway guard refused it.
UPDATE messages SET status = 'blocked', error_code = %(error_code)s, error_message = %(error_message)s
WHERE id = %(message_id)s AND status IN ('pending', 'sending')
RETURNING id;

-- name: messages_fail
-- Give up on a message being sent, with the provider's code and text.
UPDATE messages SET status = 'failed', error_code = %(error_code)s, error_message = %(error_message)s,
                    attempts = attempts + %(extra_attempts)s
WHERE id = %(message_id)s AND status = 'sending'
RETURNING id;

-- name: messages_record_sent
-- Twilio accepted the message: its SID, status, segments and when (an overtaking status callback's further status is kept).
UPDATE messages SET twilio_message_sid = %(message_sid)s,
                    status = CASE WHEN status = 'sending' THEN %(status)s::text ELSE status END,
                    sent_at = now(),
                    num_segments = %(num_segments)s, attempts = attempts + %(extra_attempts)s
WHERE id = %(message_id)s AND (status = 'sending' OR twilio_message_sid = %(message_sid)s)
RETURNING id;

-- name: messages_next_sequence_part
-- The next part of a sequence after the given position, if it is still pending.
SELECT id FROM messages
WHERE sequence_id = %(sequence_id)s AND sequence_position > %(sequence_position)s AND status = 'pending'
ORDER BY sequence_position
LIMIT 1;

-- name: messages_stale_pending
-- The sender's sweep: outbound rows still pending after the webhook should have sent them.
SELECT id FROM messages
WHERE direction = 'outbound' AND status = 'pending' AND created_at < %(older_than)s
ORDER BY created_at
LIMIT %(limit)s;

-- name: messages_stale_sending
-- The sender's sweep: rows whose send lease ran out while still 'sending' (their sender died); oldest first.
SELECT id FROM messages
WHERE direction = 'outbound' AND status = 'sending' AND claimed_at < %(older_than)s
ORDER BY claimed_at
LIMIT %(limit)s;

-- name: messages_lock_for_reconcile
-- A message being reconciled, locked (after its recipient: one lock order), with what reconciliation matches on.
SELECT m.id, m.user_id, u.phone_number, m.status, m.twilio_message_sid, m.content, m.attempts,
       m.created_at, m.claimed_at
FROM messages m JOIN users u ON u.id = m.user_id
WHERE m.id = %(message_id)s AND m.direction = 'outbound'
FOR UPDATE OF m;

-- name: messages_renew_lease
-- Take over a stranded row's lease for reconciliation (only if nobody renewed it since we read it).
UPDATE messages SET claimed_at = now()
WHERE id = %(message_id)s AND status = 'sending' AND twilio_message_sid IS NULL
  AND claimed_at IS NOT DISTINCT FROM %(lease)s
RETURNING claimed_at;

-- name: messages_release_claim
-- Give a claimed row back to 'pending' (no witness that Twilio has it, or a transient error outlasted this claim's tries).
UPDATE messages SET status = 'pending', attempts = attempts + %(extra_attempts)s, claimed_at = NULL,
                    error_code = %(error_code)s, error_message = %(error_message)s
WHERE id = %(message_id)s AND status = 'sending' AND twilio_message_sid IS NULL
  AND claimed_at IS NOT DISTINCT FROM %(lease)s
RETURNING id;

-- name: messages_known_sids
-- Which of these Twilio SIDs already belong to one of our messages.
SELECT twilio_message_sid AS sid FROM messages WHERE twilio_message_sid = ANY(%(sids)s::text[]);

-- name: messages_record_reconciled
-- Twilio's list shows it has this stranded message: record its SID and status (still only from 'sending').
UPDATE messages SET twilio_message_sid = %(message_sid)s, status = %(status)s::text,
                    sent_at = coalesce(sent_at, %(sent_at)s, now()),
                    delivered_at = CASE WHEN %(status)s::text = 'delivered' THEN now() ELSE delivered_at END,
                    error_code = %(error_code)s
WHERE id = %(message_id)s AND status = 'sending' AND twilio_message_sid IS NULL
RETURNING id;

-- name: messages_callback_recipient
-- The recipient of the message a 21610 status callback is about (it opts the user out, so it locks the user before the message: one lock order, user then message, as the sender takes them).
SELECT user_id FROM messages
WHERE direction = 'outbound'
  AND (twilio_message_sid = %(message_sid)s
       OR (id = %(message_id)s::uuid AND twilio_message_sid IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.twilio_message_sid = %(message_sid)s)))
LIMIT 1;

-- name: messages_lock_by_sid
-- The outbound message a status callback is about, locked: the one with this SID, or the one the callback URL names whose SID the sender has not recorded yet (never when the SID already belongs to another message).
SELECT id, user_id, status FROM messages
WHERE direction = 'outbound'
  AND (twilio_message_sid = %(message_sid)s
       OR (id = %(message_id)s::uuid AND twilio_message_sid IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.twilio_message_sid = %(message_sid)s)))
FOR UPDATE;

-- name: messages_apply_delivery_status
-- Move a message forward to the status Twilio reported (the caller checked it is forward); records an overtaking callback's SID.
UPDATE messages
SET status = %(status)s::text,
    twilio_message_sid = coalesce(twilio_message_sid, %(message_sid)s),
    delivered_at = CASE WHEN %(status)s::text = 'delivered' THEN coalesce(delivered_at, now()) ELSE delivered_at END,
    error_code = coalesce(%(error_code)s, error_code),
    error_message = coalesce(%(error_message)s, error_message)
WHERE id = %(message_id)s
RETURNING id;

-- name: messages_user_texts_since
-- What the user wrote after a point in time (the orchestrator's freshness check), oldest first.
SELECT content, created_at FROM messages
WHERE user_id = %(user_id)s AND direction = 'inbound' AND role = 'user' AND created_at > %(since)s
ORDER BY created_at
LIMIT %(limit)s;

-- name: messages_inbound_by_ids
-- The member's own inbound texts among these ids (goal and challenge mentions).
SELECT id, content, created_at
FROM messages
WHERE id = ANY(%(ids)s::uuid[]) AND user_id = %(user_id)s AND role = 'user' AND direction = 'inbound';

-- name: messages_outbound_for_user
-- Every outbound message to one user, in sending order (transcripts of evals and tests).
SELECT id, conversation_id, user_id, role, direction, content, status, created_at
FROM messages WHERE user_id = %(user_id)s AND direction = 'outbound'
ORDER BY created_at, sequence_position NULLS FIRST, id;

-- name: messages_recent_history
-- The last N messages an agent may see, newest first (agents.md §0.3): user messages, the agents' own, outbound system messages; never keyword/opted-out rows or sends that never reached the user.
SELECT id, role, direction, content, status, created_at
FROM messages
WHERE conversation_id = %(conversation_id)s
  AND routed
  AND (role = ANY(%(roles)s) OR (role = 'system' AND direction = 'outbound'))
  AND NOT (direction = 'outbound' AND status IN ('failed', 'blocked'))
  AND NOT (role = 'user' AND direction = 'outbound')
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: messages_history_count
-- How many messages an agent may see in a conversation (the filter of messages_recent_history): where a history window that moves in steps starts.
SELECT count(*) AS n
FROM messages
WHERE conversation_id = %(conversation_id)s
  AND routed
  AND (role = ANY(%(roles)s) OR (role = 'system' AND direction = 'outbound'))
  AND NOT (direction = 'outbound' AND status IN ('failed', 'blocked'))
  AND NOT (role = 'user' AND direction = 'outbound');

-- name: messages_since_summary
-- Messages after the last summarised one in (created_at, id) order, oldest first (filtered for agents in Python); parts of one reply share created_at.
SELECT id, role, direction, content, status, routed, created_at
FROM messages
WHERE conversation_id = %(conversation_id)s
  AND routed
  AND (created_at, id) > (
      SELECT coalesce(s.created_at, '-infinity'::timestamptz),
             coalesce(s.id, '00000000-0000-0000-0000-000000000000'::uuid)
      FROM (SELECT 1) AS one
      LEFT JOIN messages AS s ON s.id = %(last_summary_message_id)s::uuid)
ORDER BY created_at, id
LIMIT %(limit)s;

-- name: messages_last_user_text_at
-- When the user last wrote to us (routed user messages only).
SELECT max(created_at) AS at FROM messages
WHERE user_id = %(user_id)s AND role = 'user' AND direction = 'inbound';

-- name: messages_last_reply_at
-- When an agent (by its outbound role) last wrote to this user.
SELECT max(created_at) AS at FROM messages
WHERE user_id = %(user_id)s AND role = %(role)s AND direction = 'outbound';

-- name: messages_trigger_exists
-- Has the system trigger for this follow-up task been inserted already (a redelivered task)?
SELECT EXISTS (
    SELECT 1 FROM messages WHERE user_id = %(user_id)s AND role = 'system' AND direction = 'inbound'
      AND content LIKE '{%%' AND (content::jsonb ->> 'task_id') = %(task_id)s
) AS found;

-- name: messages_unanswered_inbound
-- Inbound routed messages (user texts and system triggers) that no turn has answered yet (messages.answered_by_turn_id).
SELECT m.id, m.conversation_id, m.role, m.direction, m.content, m.created_at
FROM messages AS m
WHERE m.user_id = %(user_id)s
  AND m.direction = 'inbound'
  AND m.routed
  AND m.answered_by_turn_id IS NULL
ORDER BY m.created_at, m.id;

-- name: messages_mark_answered
-- The answered-by marker: these inbound messages are answered by this turn (only if no turn has answered them).
UPDATE messages SET answered_by_turn_id = %(turn_id)s
WHERE id = ANY(%(message_ids)s::uuid[]) AND direction = 'inbound' AND answered_by_turn_id IS NULL
RETURNING id;

-- name: messages_unanswered_texts_age
-- Seconds since the newest and the oldest unanswered text of this member (NULLs when none): the turn waits for a quiet gap.
SELECT extract(epoch FROM now() - max(m.created_at))::float AS since_last,
       extract(epoch FROM now() - min(m.created_at))::float AS since_first
FROM messages AS m
WHERE m.user_id = %(user_id)s
  AND m.direction = 'inbound'
  AND m.role = 'user'
  AND m.routed
  AND m.answered_by_turn_id IS NULL;

-- name: messages_initial_setup_due
-- agents.md §6 initial_setup: the member has sent at least min_inbound texts and the Account Manager has never run for them.
SELECT (SELECT count(*) FROM (SELECT 1 FROM messages
                               WHERE user_id = %(user_id)s AND role = 'user' AND direction = 'inbound'
                               LIMIT %(min_inbound)s) AS texts) >= %(min_inbound)s
       AND NOT EXISTS (SELECT 1 FROM account_manager_members AS m
                        WHERE m.user_id = %(user_id)s AND m.runs > 0) AS due;
