-- Test fixtures for texts a member sent in the past (the webhook stamps now()).

-- name: fixture_user_text
-- An inbound text of the member, received at %(created_at)s.
INSERT INTO messages (conversation_id, user_id, role, content, direction, status, routed, created_at)
VALUES (%(conversation_id)s, %(user_id)s, 'user', %(content)s, 'inbound', 'received', true, %(created_at)s)
RETURNING id;
