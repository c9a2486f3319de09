-- Bursts: a member's texts that no turn has answered yet, timed by the database clock.

-- name: burst_unanswered_texts_age
-- Seconds since the newest and the oldest unanswered text of this member (NULLs when none): the turn waits for a quiet gap.
SELECT extract(epoch FROM now() - max(m.created_at))::float AS since_last,
       extract(epoch FROM now() - min(m.created_at))::float AS since_first
FROM messages AS m
WHERE m.user_id = %(user_id)s
  AND m.direction = 'inbound'
  AND m.role = 'user'
  AND m.routed
  AND m.answered_by_turn_id IS NULL;
