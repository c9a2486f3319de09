-- Assertion reads across tables (tests/sms_support.py): nothing lost, nothing written twice.

-- name: check_row_counts
-- How many users, conversations, messages and events there are.
SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM conversations) AS conversations,
       (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM events) AS events;
