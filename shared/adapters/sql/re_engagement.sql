-- Concierge / Innovator re-engagement (decisions B5, agents.md §4.8): the member's sends and the
-- stored pause that only a human lifts.

-- name: re_engagement_sends
-- The member's re_engagement_message_sent rows in (since, now], newest first, each with whether the member texted after it.
SELECT a.created_at,
       EXISTS (SELECT 1 FROM messages AS m
                WHERE m.user_id = a.user_id AND m.role = 'user' AND m.direction = 'inbound'
                  AND m.created_at > a.created_at) AS answered
  FROM agent_actions_log AS a
 WHERE a.user_id = %(user_id)s AND a.action_type = 're_engagement_message_sent'
   AND a.created_at > %(since)s AND a.created_at <= %(now)s
 ORDER BY a.created_at DESC;

-- name: re_engagement_state_get
-- The member's re-engagement state (no row: never paused).
SELECT user_id, paused_at, pause_reason, unanswered, resumed_at, resumed_by
  FROM re_engagement_state
 WHERE user_id = %(user_id)s;

-- name: re_engagement_pause
-- Pause the member's re-engagement until a human resumes it; a member already paused keeps their first pause time.
INSERT INTO re_engagement_state (user_id, paused_at, pause_reason, unanswered)
VALUES (%(user_id)s, %(now)s, %(reason)s, %(unanswered)s)
ON CONFLICT (user_id) DO UPDATE
   SET paused_at = coalesce(re_engagement_state.paused_at, excluded.paused_at),
       pause_reason = coalesce(re_engagement_state.pause_reason, excluded.pause_reason),
       unanswered = excluded.unanswered
RETURNING paused_at;

-- name: re_engagement_resume
-- A human lifts the pause; re-engagements sent before now no longer count.
UPDATE re_engagement_state
   SET paused_at = NULL, pause_reason = NULL, unanswered = 0, resumed_at = %(now)s, resumed_by = %(resumed_by)s
 WHERE user_id = %(user_id)s AND paused_at IS NOT NULL
RETURNING user_id;

-- name: re_engagement_paused_members
-- Members whose re-engagement is paused, longest paused first (the ops list).
SELECT s.user_id, u.phone_number, u.first_name, u.last_name, s.paused_at, s.pause_reason, s.unanswered
  FROM re_engagement_state AS s
  JOIN users AS u ON u.id = s.user_id
 WHERE s.paused_at IS NOT NULL
 ORDER BY s.paused_at
 LIMIT %(limit)s;
