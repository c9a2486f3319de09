-- Assertion reads across tables (tests/sms_support.py): nothing lost, nothing written twice; and the
-- lock waits the race tests wait for (tests/lock_support.py).

-- name: check_row_counts
-- How many users, conversations, messages and events there are.
SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM conversations) AS conversations,
       (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM events) AS events;

-- name: sessions_waiting_on_a_lock
-- How many other sessions of this database wait on a lock (tests/lock_support.py: the second worker is blocked).
SELECT count(*) AS n FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid();
