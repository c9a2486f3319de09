-- Innovators: the company side of a member approved as an innovator.

-- name: innovators_insert
-- The innovators row for a user approved as an innovator (once).
INSERT INTO innovators (user_id, company_name)
VALUES (%(user_id)s, %(company_name)s)
ON CONFLICT (user_id) DO NOTHING
RETURNING id;
