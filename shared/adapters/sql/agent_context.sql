-- Context loading shared by the point-of-contact agents (agents.md §0.3) and the turn framework.

-- name: ctx_user
-- The user's profile row, as agents see it.
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, verified,
       innovator, expertise, poc_agent_type, referred_by, name_dropped, verification_token, opted_out,
       timezone, onboarding_completed_at, approval_status, verification_requested_at, credit_balance, created_at, last_active_at,
       (SELECT coalesce(r.first_name, '') || ' ' || coalesce(r.last_name, '')
          FROM users AS r WHERE r.id = users.referred_by) AS referrer_name
FROM users WHERE id = %(user_id)s;

-- name: ctx_active_conversation
-- The user's active conversation, if any.
SELECT id, user_id, status, conversation_summary, last_summary_message_id, messages_since_summary,
       created_at, last_message_at
FROM conversations WHERE user_id = %(user_id)s AND status = 'active';

-- name: ctx_conversation
-- One conversation by id.
SELECT id, user_id, status, conversation_summary, last_summary_message_id, messages_since_summary,
       created_at, last_message_at
FROM conversations WHERE id = %(conversation_id)s;

-- name: ctx_recent_history
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
