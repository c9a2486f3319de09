-- Conversation summaries (decisions B12, platform.md §6.4).

-- name: summary_lock_conversation
-- The conversation to summarise, locked, with the user's profile fields the summary may use.
SELECT c.id, c.user_id, c.conversation_summary, c.last_summary_message_id, c.messages_since_summary,
       u.first_name, u.last_name, u.company, u.title, u.email_verified, u.verified, u.poc_agent_type
FROM conversations AS c JOIN users AS u ON u.id = c.user_id
WHERE c.id = %(conversation_id)s
FOR UPDATE OF c;

-- name: summary_messages_since
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

-- name: summary_store
-- Store the summary and where it stops; the message counter starts again.
UPDATE conversations
SET conversation_summary = %(summary)s, last_summary_message_id = %(last_message_id)s,
    messages_since_summary = 0
WHERE id = %(conversation_id)s
RETURNING id;
