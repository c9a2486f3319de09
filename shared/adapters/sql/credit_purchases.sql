-- Credit purchases (issue 13; decisions A11, B19): Stripe Checkout Sessions and the ledger rows they paid.

-- name: credit_purchase_insert
-- request_credit_funding: the Checkout Session just created for a member.
INSERT INTO credit_purchases (user_id, stripe_session_id, credits, amount_cents, currency, checkout_url)
VALUES (%(user_id)s, %(stripe_session_id)s, %(credits)s, %(amount_cents)s, %(currency)s, %(checkout_url)s)
ON CONFLICT (stripe_session_id) DO UPDATE SET checkout_url = EXCLUDED.checkout_url
RETURNING id, user_id, stripe_session_id, credits, amount_cents, currency, status, checkout_url,
          stripe_event_id, refused_reason, credit_event_id, paid_at, created_at;

-- name: credit_purchase_by_session
-- The purchase a Stripe event names, locked so redeliveries serialise.
SELECT id, user_id, stripe_session_id, credits, amount_cents, currency, status, checkout_url,
       stripe_event_id, refused_reason, credit_event_id, paid_at, created_at
  FROM credit_purchases
 WHERE stripe_session_id = %(stripe_session_id)s
   FOR UPDATE;

-- name: credit_purchase_mark_paid
-- A paid checkout.session.completed: the purchase names its ledger row.
UPDATE credit_purchases
   SET status = 'paid', paid_at = %(now)s, stripe_event_id = %(stripe_event_id)s,
       credit_event_id = %(credit_event_id)s
 WHERE id = %(id)s AND status = 'open';

-- name: credit_purchase_mark_refused
-- An event that did not match the purchase (amount, currency or member): nothing is credited.
UPDATE credit_purchases
   SET status = 'refused', refused_reason = %(reason)s, stripe_event_id = %(stripe_event_id)s
 WHERE id = %(id)s AND status = 'open';

-- name: credit_purchases_list
-- ops purchases: the newest purchases with their member and ledger row.
SELECT p.id, p.user_id, u.phone_number, p.stripe_session_id, p.credits, p.amount_cents, p.currency,
       p.status, p.refused_reason, p.paid_at, p.created_at, p.credit_event_id,
       ce.amount AS ledger_amount, ce.idempotency_key AS ledger_key, ce.created_at AS ledger_at
  FROM credit_purchases p
  JOIN users u ON u.id = p.user_id
  LEFT JOIN credit_events ce ON ce.id = p.credit_event_id
 WHERE (%(status)s::text IS NULL OR p.status = %(status)s::text)
 ORDER BY p.created_at DESC
 LIMIT %(limit)s;
