-- The credit ledger (decisions B8, B19; platform.md §4). Read through shared.adapters.repositories.credits;
-- every award and spend goes through shared.service_layer.credits. The balance is the sum of processed
-- rows; users.credit_balance is the trigger-kept cache.

-- name: credit_event_by_key
-- The ledger row written under an idempotency key, if any.
SELECT id, user_id, event_type, amount, reference_type, reference_id, idempotency_key, description,
       processed, recorded_by, created_at
  FROM credit_events
 WHERE idempotency_key = %(idempotency_key)s;

-- name: credit_insert_event
-- Append one processed ledger row; nothing when the key was used before (a racing twin waits, then skips).
INSERT INTO credit_events (user_id, event_type, amount, reference_type, reference_id, idempotency_key,
                           description, processed, processed_at, recorded_by)
VALUES (%(user_id)s, %(event_type)s, %(amount)s, %(reference_type)s, %(reference_id)s, %(idempotency_key)s,
        %(description)s, true, now(), %(recorded_by)s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, user_id, event_type, amount, reference_type, reference_id, idempotency_key, description,
          processed, recorded_by, created_at;

-- name: credit_balance
-- The authoritative balance: the sum of the member's processed ledger rows.
SELECT coalesce(sum(amount), 0)::bigint AS balance
  FROM credit_events
 WHERE user_id = %(user_id)s AND processed;

-- name: credit_ledger_for_user
-- A member's ledger, newest first.
SELECT id, user_id, event_type, amount, reference_type, reference_id, idempotency_key, description, processed,
       recorded_by, created_at
  FROM credit_events
 WHERE user_id = %(user_id)s
 ORDER BY created_at DESC, id
 LIMIT %(limit)s;

-- name: credit_ledger_consistency
-- ledger_consistent: every cached users.credit_balance equals the processed ledger sum.
SELECT count(*) FILTER (WHERE u.credit_balance <> coalesce(b.balance, 0))::bigint AS mismatched,
       coalesce(sum(coalesce(b.balance, 0)), 0)::bigint AS ledger_total,
       coalesce(sum(u.credit_balance), 0)::bigint AS cached_total,
       (SELECT count(*) FROM credit_events)::bigint AS ledger_rows,
       (SELECT count(*) FROM credit_events WHERE NOT processed)::bigint AS unprocessed_rows
  FROM users u
  LEFT JOIN user_credit_balances b ON b.user_id = u.id;
