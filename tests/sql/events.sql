-- Test fixtures for events written in the past (the unit of work stamps now()).

-- name: fixture_event
-- A user event written at %(created_at)s.
INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_at, created_by)
VALUES (%(event_type)s, 'user', %(user_id)s, %(payload)s::jsonb, %(created_at)s, 'test')
RETURNING id;

-- name: check_event
-- One outbox row, every column.
SELECT * FROM events WHERE id = %(event_id)s;

-- name: check_dead_letters
-- Every dead-lettered event, oldest first.
SELECT * FROM event_dead_letters ORDER BY created_at;
