-- Bouncer onboarding, email verification and operator approval (agents.md §2, decisions B4, B10, B11).

-- name: bouncer_lock_user
-- One user's onboarding fields, locked for this transaction.
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, verified,
       poc_agent_type, referred_by, name_dropped, verification_token, opted_out,
       onboarding_completed_at, approval_status, verification_requested_at, timezone, created_at,
       last_active_at
FROM users WHERE id = %(user_id)s FOR UPDATE;

-- name: bouncer_get_user
-- One user's onboarding fields, unlocked.
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, verified,
       poc_agent_type, referred_by, name_dropped, verification_token, opted_out,
       onboarding_completed_at, approval_status, verification_requested_at, timezone, created_at,
       last_active_at
FROM users WHERE id = %(user_id)s;

-- name: bouncer_update_profile
-- collect_user_info: write the given (non-null) fields of the current user only.
UPDATE users SET
    first_name = COALESCE(%(first_name)s, first_name),
    last_name = COALESCE(%(last_name)s, last_name),
    company = COALESCE(%(company)s, company),
    title = COALESCE(%(title)s, title),
    linkedin_url = COALESCE(%(linkedin_url)s, linkedin_url),
    expertise = CASE WHEN %(expertise)s::text[] IS NULL THEN expertise
                     ELSE ARRAY(SELECT DISTINCT unnest(expertise || %(expertise)s::text[])) END
WHERE id = %(user_id)s AND NOT verified
RETURNING id;

-- name: bouncer_set_referred_by
-- A referral matched a verified member: users.referred_by (never the user themself).
UPDATE users SET referred_by = %(referrer_id)s, name_dropped = NULL
WHERE id = %(user_id)s AND %(referrer_id)s::uuid <> %(user_id)s::uuid
RETURNING id;

-- name: bouncer_set_name_dropped
-- No match: keep the raw referrer text for manual follow-up (never as the user's own name).
UPDATE users SET name_dropped = %(name_dropped)s
WHERE id = %(user_id)s AND referred_by IS NULL
RETURNING id;

-- name: bouncer_referral_candidates
-- Verified members whose name resembles the referrer text; exact full name 50 points, partial less.
SELECT id, first_name, last_name, company, score FROM (
    SELECT u.id, u.first_name, u.last_name, u.company, u.created_at,
           CASE
             WHEN lower(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) = %(full)s THEN %(exact)s
             WHEN lower(u.first_name) = %(first)s AND %(last)s <> ''
                  AND lower(u.last_name) LIKE %(last_prefix)s THEN %(exact)s - 10
             WHEN lower(u.first_name) = %(first)s AND %(last)s = '' THEN %(exact)s - 20
             WHEN lower(u.last_name) = %(first)s AND %(last)s = '' THEN %(exact)s - 25
             WHEN lower(u.last_name) = %(last)s AND %(last)s <> '' THEN %(partial)s
             WHEN lower(u.first_name) LIKE %(first_prefix)s THEN %(partial)s - 10
             ELSE 0
           END AS score
    FROM users AS u
    WHERE u.verified AND u.id <> %(user_id)s
      AND (lower(u.first_name) LIKE %(first_prefix)s OR lower(u.last_name) LIKE %(first_prefix)s
           OR (%(last)s <> '' AND lower(u.last_name) LIKE %(last_prefix)s))
) AS scored
WHERE score > 0
ORDER BY score DESC, created_at
LIMIT %(limit)s;

-- name: bouncer_verified_user_exists
-- Is this id a verified member (a referral target the LLM may confirm)?
SELECT EXISTS (SELECT 1 FROM users WHERE id = %(user_id)s AND verified) AS found;

-- name: bouncer_insert_nomination
-- A nomination: an intro_offers row with context_type 'nomination' and no bounty (agents.md §2.5).
INSERT INTO intro_offers (offering_user_id, prospect_name, prospect_company, prospect_title,
                          prospect_context, context_type, bounty_credits)
VALUES (%(user_id)s, %(prospect_name)s, %(prospect_company)s, %(prospect_title)s, %(prospect_context)s,
        'nomination', 0)
RETURNING id;

-- name: bouncer_complete_onboarding
-- All required fields and a verified email: onboarding done, into the operator's approval queue.
UPDATE users SET onboarding_completed_at = now(), approval_status = 'pending'
WHERE id = %(user_id)s AND onboarding_completed_at IS NULL AND email_verified
  AND first_name IS NOT NULL AND last_name IS NOT NULL AND company IS NOT NULL AND title IS NOT NULL
RETURNING id, onboarding_completed_at;

-- name: bouncer_mark_verification_requested
-- The verification address is handed out for the first time (the caller emits user.verification.pending when a row comes back).
UPDATE users SET verification_requested_at = %(now)s
WHERE id = %(user_id)s AND verification_requested_at IS NULL
RETURNING id, verification_requested_at;

-- name: bouncer_supersede_queued_followups
-- The Bouncer's follow-ups still waiting in message_queue are stale (the user replied, onboarding ended ...).
UPDATE message_queue SET status = 'superseded', superseded_reason = left(%(reason)s, 100)
WHERE user_id = %(user_id)s AND status = 'queued' AND agent_id = 'bouncer'
  AND message_data ->> 'kind' = %(kind)s;

-- name: bouncer_task_created_at
-- When a task was created (a follow-up is stale when the user wrote after it was scheduled).
SELECT created_at FROM agent_tasks WHERE id = %(task_id)s;

-- name: bouncer_log_action
-- A Bouncer action (fallback used, referral matched, email verified ...) in agent_actions_log.
INSERT INTO agent_actions_log (agent_type, action_type, user_id, context_id, context_type,
                               input_data, output_data, error)
VALUES (%(agent_type)s, %(action_type)s, %(user_id)s, %(context_id)s, %(context_type)s,
        %(input_data)s::jsonb, %(output_data)s::jsonb, %(error)s)
RETURNING id;

-- name: bouncer_actions_for_user
-- A user's agent_actions_log rows of one action type, oldest first.
SELECT * FROM agent_actions_log WHERE user_id = %(user_id)s AND action_type = %(action_type)s
ORDER BY created_at, id;

-- name: bouncer_active_conversation
-- The user's active conversation, if any.
SELECT id, status, conversation_summary FROM conversations
WHERE user_id = %(user_id)s AND status = 'active';

-- name: bouncer_latest_conversation
-- The user's most recent conversation in any status.
SELECT id, status, conversation_summary FROM conversations
WHERE user_id = %(user_id)s ORDER BY (status = 'active') DESC, created_at DESC LIMIT 1;

-- name: bouncer_open_conversation
-- Create the active conversation unless one exists (the partial unique index decides).
INSERT INTO conversations (user_id, phone_number, status, last_message_at)
SELECT id, phone_number, 'active', now() FROM users WHERE id = %(user_id)s
ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
RETURNING id;

-- name: bouncer_set_conversation_status
-- Pause or close one conversation.
UPDATE conversations SET status = %(status)s
WHERE id = %(conversation_id)s AND status <> %(status)s
RETURNING id;

-- name: bouncer_reactivate_conversation
-- A paused conversation comes back to life when the user writes again (only if no other is active).
UPDATE conversations AS c SET status = 'active'
WHERE c.id = %(conversation_id)s AND c.status = 'paused'
  AND NOT EXISTS (SELECT 1 FROM conversations o WHERE o.user_id = c.user_id AND o.status = 'active')
RETURNING id;

-- name: bouncer_insert_system_message
-- An internal trigger (email verified, re-engagement check): role system, inbound, never sendable (B14).
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, routed)
VALUES (%(conversation_id)s, %(user_id)s, 'system', %(content)s, 'inbound', 'received', true)
RETURNING id, created_at;

-- name: bouncer_last_user_message_at
-- When the user last wrote to us (routed user messages only).
SELECT max(created_at) AS at FROM messages
WHERE user_id = %(user_id)s AND role = 'user' AND direction = 'inbound';

-- name: bouncer_last_interaction_at
-- The last user message or Bouncer reply: the clock follow-ups count from.
SELECT max(created_at) AS at FROM messages
WHERE user_id = %(user_id)s AND ((role = 'user' AND direction = 'inbound')
                                 OR (role = 'bouncer' AND direction = 'outbound'));

-- name: bouncer_recent_messages
-- The last messages of a conversation, newest first (the caller reverses them).
SELECT id, role, direction, content, created_at FROM messages
WHERE conversation_id = %(conversation_id)s
ORDER BY created_at DESC, id DESC LIMIT %(limit)s;

-- name: bouncer_pending_followups
-- Open re_engagement_check tasks of one user.
SELECT id, scheduled_for, context_json, status FROM agent_tasks
WHERE user_id = %(user_id)s AND task_type = 're_engagement_check' AND agent_type = 'bouncer'
  AND status IN ('pending', 'processing')
ORDER BY scheduled_for;

-- name: bouncer_user_by_verification_token
-- The user a verify-<token>@ address belongs to, locked.
SELECT id, phone_number, email, email_verified, verified, poc_agent_type, opted_out
FROM users WHERE verification_token = %(token)s FOR UPDATE;

-- name: bouncer_mark_email_verified
-- The inbound-email webhook proved ownership of the sender address (B10: nothing else sets it).
UPDATE users SET email = %(email)s, email_verified = true
WHERE id = %(user_id)s AND NOT email_verified
RETURNING id;

-- name: approval_lock_user_by_phone
-- A user by E.164 phone number, locked for an approval decision.
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, verified,
       poc_agent_type, approval_status, onboarding_completed_at, opted_out
FROM users WHERE phone_number = %(phone)s FOR UPDATE;

-- name: approval_approve_user
-- Operator approval: verified, point of contact switched, approval_status approved (B10).
UPDATE users SET verified = true, poc_agent_type = %(poc_agent_type)s::varchar, approval_status = 'approved',
                 innovator = (innovator OR %(poc_agent_type)s::varchar = 'innovator')
WHERE id = %(user_id)s
RETURNING id, verified, poc_agent_type, approval_status;

-- name: approval_set_status
-- Operator decision other than approval: rejected or on hold.
UPDATE users SET approval_status = %(approval_status)s
WHERE id = %(user_id)s AND NOT verified
RETURNING id, approval_status;

-- name: approval_insert_innovator
-- The innovators row for a user approved as an innovator (once).
INSERT INTO innovators (user_id, company_name)
VALUES (%(user_id)s, %(company_name)s)
ON CONFLICT (user_id) DO NOTHING
RETURNING id;

-- name: approval_pending_users
-- Users awaiting an operator's decision (pending first, then on hold), oldest first.
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, referred_by,
       name_dropped, approval_status, onboarding_completed_at, created_at
FROM users
WHERE approval_status IN ('pending', 'on_hold') AND NOT verified
ORDER BY (approval_status = 'pending') DESC, onboarding_completed_at NULLS LAST, created_at
LIMIT %(limit)s;

-- name: bouncer_trigger_exists
-- Has the system trigger for this follow-up task been inserted already (a redelivered task)?
SELECT EXISTS (
    SELECT 1 FROM messages WHERE user_id = %(user_id)s AND role = 'system' AND direction = 'inbound'
      AND content LIKE '{%%' AND (content::jsonb ->> 'task_id') = %(task_id)s
) AS found;

-- name: bouncer_last_reply_at
-- When the Bouncer last wrote to this user.
SELECT max(created_at) AS at FROM messages
WHERE user_id = %(user_id)s AND role = 'bouncer' AND direction = 'outbound';
