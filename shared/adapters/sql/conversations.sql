-- The conversations aggregate: a member's SMS thread, at most one active at a time, and its summary.

-- name: conversations_active_for_user
-- The user's active conversation, if any.
SELECT id, user_id, status, conversation_summary, last_summary_message_id, messages_since_summary,
       created_at, last_message_at
FROM conversations WHERE user_id = %(user_id)s AND status = 'active';

-- name: conversations_get
-- One conversation by id.
SELECT id, user_id, status, conversation_summary, last_summary_message_id, messages_since_summary,
       created_at, last_message_at
FROM conversations WHERE id = %(conversation_id)s;

-- name: conversations_open
-- Create the user's active conversation unless one exists (the partial unique index decides).
INSERT INTO conversations (user_id, phone_number, status, last_message_at)
SELECT id, phone_number, 'active', now() FROM users WHERE id = %(user_id)s
ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
RETURNING id;

-- name: conversations_latest_for_user
-- The user's active conversation, else their most recent one.
SELECT id, user_id, status, conversation_summary, last_summary_message_id, messages_since_summary,
       created_at, last_message_at
FROM conversations
WHERE user_id = %(user_id)s ORDER BY (status = 'active') DESC, created_at DESC LIMIT 1;

-- name: conversations_set_status
-- Pause or close one conversation.
UPDATE conversations SET status = %(status)s
WHERE id = %(conversation_id)s AND status <> %(status)s
RETURNING id;

-- name: conversations_lock_for_summary
-- The conversation to summarise, locked, with the user's profile fields the summary may use.
SELECT c.id, c.user_id, c.conversation_summary, c.last_summary_message_id, c.messages_since_summary,
       u.first_name, u.last_name, u.company, u.title, u.email_verified, u.verified, u.poc_agent_type
FROM conversations AS c JOIN users AS u ON u.id = c.user_id
WHERE c.id = %(conversation_id)s
FOR UPDATE OF c;

-- name: conversations_store_summary
-- Store the summary and where it stops; the message counter starts again.
UPDATE conversations
SET conversation_summary = %(summary)s, last_summary_message_id = %(last_message_id)s,
    messages_since_summary = 0
WHERE id = %(conversation_id)s
RETURNING id;
