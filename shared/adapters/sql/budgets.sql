-- user_message_budget: proactive sends counted per user and local date (decisions B1, B2).

-- name: budgets_for_date
-- The user's budget row for this local date, else their latest one (it carries per-user overrides).
SELECT date, messages_sent, daily_limit, hourly_limit, quiet_hours_enabled
FROM user_message_budget
WHERE user_id = %(user_id)s
ORDER BY (date = %(date)s) DESC, date DESC
LIMIT 1;

-- name: budgets_count_send
-- Count one budgeted send unit on the user's local date (creating the day's row with their limits).
INSERT INTO user_message_budget (user_id, date, messages_sent, last_message_at, daily_limit, hourly_limit,
                                 quiet_hours_enabled)
VALUES (%(user_id)s, %(date)s, 1, %(now)s, %(daily_limit)s, %(hourly_limit)s, %(quiet_hours_enabled)s)
ON CONFLICT (user_id, date) DO UPDATE
SET messages_sent = user_message_budget.messages_sent + 1, last_message_at = excluded.last_message_at
RETURNING messages_sent;
