-- The users aggregate: members, their onboarding and approval state, opt-out, and the one way to
-- lock a user (a transaction-scoped advisory lock, scoped by what it serialises).

-- name: users_lock
-- Lock one user for this transaction in a scope (turn, orchestrator, account); waits for the holder.
SELECT pg_advisory_xact_lock(hashtextextended('yp.' || %(scope)s::text || ':' || %(user_id)s::text, 0));

-- name: users_try_lock
-- The same lock as users_lock without waiting: false when another transaction holds it.
SELECT pg_try_advisory_xact_lock(hashtextextended('yp.' || %(scope)s::text || ':' || %(user_id)s::text, 0))
       AS locked;

-- name: users_lock_recipient
-- users_lock for the recipient of a message, found and locked in one statement (a message's
-- recipient never changes); no row when there is no such message.
SELECT m.user_id
  FROM messages AS m,
       LATERAL (SELECT pg_advisory_xact_lock(
                  hashtextextended('yp.' || %(scope)s::text || ':' || m.user_id::text, 0))) AS locked
 WHERE m.id = %(message_id)s;

-- name: users_get
-- One user's profile row, as agents and services see it (with the referrer's name).
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, verified,
       innovator, expertise, poc_agent_type, referred_by, name_dropped, verification_token, opted_out,
       timezone, onboarding_completed_at, approval_status, verification_requested_at, credit_balance,
       created_at, last_active_at,
       (SELECT coalesce(r.first_name, '') || ' ' || coalesce(r.last_name, '')
          FROM users AS r WHERE r.id = users.referred_by) AS referrer_name
FROM users WHERE id = %(user_id)s;

-- name: users_upsert_by_phone
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

-- name: users_send_profile
-- What scheduling and the send policy need about one user, with their latest inbound text up to now.
SELECT u.id, u.phone_number, u.timezone, u.quiet_hours_start, u.quiet_hours_end, u.opted_out,
       u.verified, u.poc_agent_type, u.response_pattern,
       (SELECT max(m.created_at) FROM messages m
         WHERE m.user_id = u.id AND m.direction = 'inbound' AND m.role = 'user'
           AND m.created_at <= %(now)s) AS last_inbound_at
FROM users u
WHERE u.id = %(user_id)s;

-- name: users_set_opted_out
-- Opt the user out (decisions B15); returns the row only when this changed something.
UPDATE users SET opted_out = true, opted_out_at = now()
WHERE id = %(user_id)s AND NOT opted_out
RETURNING id;

-- name: users_set_opted_in
-- Opt the user back in; returns the row only when this changed something.
UPDATE users SET opted_out = false, opted_out_at = NULL
WHERE id = %(user_id)s AND opted_out
RETURNING id;

-- name: users_id_by_verification_token
-- The user a verify-<token>@ address belongs to.
SELECT id FROM users WHERE verification_token = %(token)s;

-- name: users_mark_email_verified
-- The inbound-email webhook proved ownership of the sender address (B10: nothing else sets it).
UPDATE users SET email = %(email)s, email_verified = true
WHERE id = %(user_id)s AND NOT email_verified
RETURNING id;

-- name: users_update_profile
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

-- name: users_set_referred_by
-- A referral matched a verified member: users.referred_by (never the user themself).
UPDATE users SET referred_by = %(referrer_id)s, name_dropped = NULL
WHERE id = %(user_id)s AND %(referrer_id)s::uuid <> %(user_id)s::uuid
RETURNING id;

-- name: users_set_name_dropped
-- No match: keep the raw referrer text for manual follow-up (never as the user's own name).
UPDATE users SET name_dropped = %(name_dropped)s
WHERE id = %(user_id)s AND referred_by IS NULL
RETURNING id;

-- name: users_referral_candidates
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

-- name: users_verified_by_name
-- Verified members with this first (and last) name, for a community referral; two rows mean ambiguous.
SELECT id
  FROM users
 WHERE verified AND NOT opted_out
   AND lower(first_name) = lower(%(first_name)s)
   AND (%(last_name)s::text IS NULL OR lower(last_name) = lower(%(last_name)s::text))
 LIMIT 2;

-- name: users_complete_onboarding
-- All required fields and a verified email: onboarding done, into the operator's approval queue.
UPDATE users SET onboarding_completed_at = now(), approval_status = 'pending'
WHERE id = %(user_id)s AND onboarding_completed_at IS NULL AND email_verified
  AND first_name IS NOT NULL AND last_name IS NOT NULL AND company IS NOT NULL AND title IS NOT NULL
RETURNING id, onboarding_completed_at;

-- name: users_id_by_phone
-- The user with this E.164 phone number.
SELECT id FROM users WHERE phone_number = %(phone)s;

-- name: users_approve
-- Operator approval: verified, point of contact switched, approval_status approved (B10).
UPDATE users SET verified = true, poc_agent_type = %(poc_agent_type)s::varchar, approval_status = 'approved',
                 innovator = (innovator OR %(poc_agent_type)s::varchar = 'innovator')
WHERE id = %(user_id)s
RETURNING id, verified, poc_agent_type, approval_status;

-- name: users_set_approval_status
-- Operator decision other than approval: rejected or on hold.
UPDATE users SET approval_status = %(approval_status)s
WHERE id = %(user_id)s AND NOT verified
RETURNING id, approval_status;

-- name: users_pending_approval
-- Users awaiting an operator's decision (pending first, then on hold), oldest first.
SELECT id, phone_number, first_name, last_name, company, title, email, email_verified, referred_by,
       name_dropped, approval_status, onboarding_completed_at, created_at
FROM users
WHERE approval_status IN ('pending', 'on_hold') AND NOT verified
ORDER BY (approval_status = 'pending') DESC, onboarding_completed_at NULLS LAST, created_at
LIMIT %(limit)s;

-- name: users_mark_verification_requested
-- The verification address is handed out for the first time (the caller emits user.verification.pending when a row comes back).
UPDATE users SET verification_requested_at = %(now)s
WHERE id = %(user_id)s AND verification_requested_at IS NULL
RETURNING id, verification_requested_at;

-- name: users_goal
-- The member's stated goal (agents.md §4.2 context, §4.3 store_user_goal).
SELECT goal, goal_type, goal_updated_at FROM users WHERE id = %(user_id)s;

-- name: users_store_goal
-- Store the member's goal on their own users row.
UPDATE users
   SET goal = %(goal)s, goal_type = %(goal_type)s, goal_updated_at = now()
 WHERE id = %(user_id)s
RETURNING id, goal, goal_type;
