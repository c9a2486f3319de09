-- Benchmark seed queries for conversations, messages and their events (bench/account_manager.py).

-- name: bench_seed_news_conversations
-- A conversation for each member of the temp table news.
INSERT INTO conversations (user_id, phone_number) SELECT id, phone_number FROM news;

-- name: bench_seed_news_texts
-- An inbound goal text from each member of news, and its message.received event.
WITH msg AS (
    INSERT INTO messages (conversation_id, user_id, role, content, direction, status)
    SELECT c.id, c.user_id, 'user', 'Looking for a fractional CFO who has done a Series B', 'inbound',
           'received'
    FROM conversations AS c JOIN news ON news.id = c.user_id
    RETURNING id, user_id
)
INSERT INTO events (event_type, aggregate_type, aggregate_id, payload, created_by)
SELECT 'message.received', 'user', user_id, jsonb_build_object('user_id', user_id, 'message_id', id),
       'twilio_inbound'
FROM msg;
