-- SMS channel: inbound webhook, the one outbound path, the sender and delivery callbacks.

-- name: sms_upsert_user_and_conversation
-- Find or create the user texting from this number and their one active conversation; a paused one (B4) comes back.
WITH u AS (
  INSERT INTO users (phone_number, poc_agent_type, verified, timezone, last_active_at)
  VALUES (%(phone_number)s, 'bouncer', false, %(timezone)s, now())
  ON CONFLICT (phone_number) DO UPDATE SET last_active_at = now()
  RETURNING id, verified, poc_agent_type, opted_out, (xmax = 0) AS created
), p AS (
  UPDATE conversations SET status = 'active', last_message_at = now(), updated_at = now()
  WHERE id = (SELECT c.id FROM conversations c JOIN u ON c.user_id = u.id
               WHERE c.status = 'paused'
                 AND NOT EXISTS (SELECT 1 FROM conversations a WHERE a.user_id = u.id AND a.status = 'active')
               ORDER BY c.updated_at DESC LIMIT 1)
  RETURNING id
), c AS (
  INSERT INTO conversations (user_id, phone_number, status, last_message_at)
  SELECT id, %(phone_number)s, 'active', now() FROM u WHERE NOT EXISTS (SELECT 1 FROM p)
  ON CONFLICT (user_id) WHERE status = 'active' DO UPDATE SET last_message_at = now()
  RETURNING id
)
SELECT u.id, u.verified, u.poc_agent_type, u.opted_out, u.created,
       coalesce((SELECT id FROM p), (SELECT id FROM c)) AS conversation_id
FROM u;

-- name: sms_insert_inbound_message
-- Store one inbound SMS; a replayed MessageSid inserts nothing and returns no row.
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, twilio_message_sid,
                      media_urls, num_segments, routed)
VALUES (%(conversation_id)s, %(user_id)s, 'user', %(content)s, 'inbound', 'received', %(message_sid)s,
        %(media_urls)s, %(num_segments)s, %(routed)s)
ON CONFLICT (twilio_message_sid) DO NOTHING
RETURNING id;

-- name: sms_set_opted_out
-- Opt the user out (decisions B15); returns the row only when this changed something.
UPDATE users SET opted_out = true, opted_out_at = now()
WHERE id = %(user_id)s AND NOT opted_out
RETURNING id;

-- name: sms_set_opted_in
-- Opt the user back in; returns the row only when this changed something.
UPDATE users SET opted_out = false, opted_out_at = NULL
WHERE id = %(user_id)s AND opted_out
RETURNING id;

-- name: sms_insert_outbound_message
-- One outbound SMS for the sender to deliver (decisions B14); the insert trigger calls the sender.
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, num_segments,
                      message_queue_id, sequence_id, sequence_position, sequence_total, routed)
VALUES (%(conversation_id)s, %(user_id)s, %(role)s, %(content)s, 'outbound', 'pending', %(num_segments)s,
        %(message_queue_id)s, %(sequence_id)s, %(sequence_position)s, %(sequence_total)s, true)
RETURNING id;

-- name: sms_lock_message_user
-- Serialise sends to one user (runaway guard): lock the user of a pending outbound message.
SELECT u.id AS user_id, u.phone_number, u.opted_out, m.status, m.content, m.sequence_id,
       m.sequence_position
FROM messages m JOIN users u ON u.id = m.user_id
WHERE m.id = %(message_id)s AND m.direction = 'outbound'
FOR UPDATE OF u;

-- name: sms_sequence_predecessor_unsent
-- True when an earlier part of the same sequence has not been handed to Twilio yet.
SELECT EXISTS (
  SELECT 1 FROM messages p
  WHERE p.sequence_id = %(sequence_id)s
    AND p.sequence_position < %(sequence_position)s
    AND p.status IN ('pending', 'sending')
) AS waiting;

-- name: sms_count_recent_outbound
-- Outbound SMS handed to (or being handed to) Twilio for this user since a point in time.
SELECT count(*) AS n FROM messages
WHERE user_id = %(user_id)s AND direction = 'outbound' AND id <> %(message_id)s
  AND status IN ('sending', 'queued', 'sent', 'delivered', 'undelivered')
  AND coalesce(sent_at, created_at) > %(since)s;

-- name: sms_claim_for_sending
-- Guarded transition: only one caller ever moves a pending message to 'sending'.
UPDATE messages SET status = 'sending', attempts = attempts + 1
WHERE id = %(message_id)s AND direction = 'outbound' AND status = 'pending'
RETURNING id, attempts;

-- name: sms_block_message
-- Never sent: the user opted out, or the runaway guard refused it.
UPDATE messages SET status = 'blocked', error_code = %(error_code)s, error_message = %(error_message)s
WHERE id = %(message_id)s AND status IN ('pending', 'sending')
RETURNING id;

-- name: sms_fail_message
-- Give up on a message being sent, with the provider's code and text.
UPDATE messages SET status = 'failed', error_code = %(error_code)s, error_message = %(error_message)s,
                    attempts = attempts + %(extra_attempts)s
WHERE id = %(message_id)s AND status = 'sending'
RETURNING id;

-- name: sms_record_sent
-- Twilio accepted the message: its SID, status, segments and when (an overtaking status callback's further status is kept).
UPDATE messages SET twilio_message_sid = %(message_sid)s,
                    status = CASE WHEN status = 'sending' THEN %(status)s::text ELSE status END,
                    sent_at = now(),
                    num_segments = %(num_segments)s, attempts = attempts + %(extra_attempts)s
WHERE id = %(message_id)s AND (status = 'sending' OR twilio_message_sid = %(message_sid)s)
RETURNING id;

-- name: sms_next_sequence_part
-- The next part of a sequence after the given position, if it is still pending.
SELECT id FROM messages
WHERE sequence_id = %(sequence_id)s AND sequence_position > %(sequence_position)s AND status = 'pending'
ORDER BY sequence_position
LIMIT 1;

-- name: sms_stale_pending_messages
-- The sender's sweep: outbound rows still pending after the webhook should have sent them.
SELECT id FROM messages
WHERE direction = 'outbound' AND status = 'pending' AND created_at < %(older_than)s
ORDER BY created_at
LIMIT %(limit)s;

-- name: sms_lock_user_of_callback
-- Lock order (users, then messages, as the sender takes them): lock the user of the message a status callback is about before the message itself.
SELECT u.id FROM users u
WHERE u.id = (
    SELECT user_id FROM messages
    WHERE direction = 'outbound'
      AND (twilio_message_sid = %(message_sid)s
           OR (id = %(message_id)s::uuid AND twilio_message_sid IS NULL
               AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.twilio_message_sid = %(message_sid)s)))
    LIMIT 1)
FOR UPDATE;

-- name: sms_lock_message_by_sid
-- The outbound message a status callback is about, locked: the one with this SID, or the one the callback URL names whose SID the sender has not recorded yet (never when the SID already belongs to another message).
SELECT id, user_id, status FROM messages
WHERE direction = 'outbound'
  AND (twilio_message_sid = %(message_sid)s
       OR (id = %(message_id)s::uuid AND twilio_message_sid IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.twilio_message_sid = %(message_sid)s)))
FOR UPDATE;

-- name: sms_apply_delivery_status
-- Move a message forward to the status Twilio reported (the caller checked it is forward); records an overtaking callback's SID.
UPDATE messages
SET status = %(status)s::text,
    twilio_message_sid = coalesce(twilio_message_sid, %(message_sid)s),
    delivered_at = CASE WHEN %(status)s::text = 'delivered' THEN coalesce(delivered_at, now()) ELSE delivered_at END,
    error_code = coalesce(%(error_code)s, error_code),
    error_message = coalesce(%(error_message)s, error_message)
WHERE id = %(message_id)s
RETURNING id;

-- name: sms_user_of_message
-- The recipient of a message.
SELECT user_id FROM messages WHERE id = %(message_id)s;
