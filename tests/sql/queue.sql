-- Assertion reads of the message queue (tests/bouncer_support.py, tests/reengagement_support.py).

-- name: check_queued_in_sequence
-- The member's queued messages, oldest first, a sequence's parts in order.
SELECT * FROM message_queue WHERE user_id = %(user_id)s ORDER BY created_at, sequence_position NULLS FIRST;

-- name: check_queued
-- The member's queued messages, oldest first.
SELECT * FROM message_queue WHERE user_id = %(user_id)s ORDER BY created_at;
