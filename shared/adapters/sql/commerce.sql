-- Innovator commerce (issue 13): prospect upload links, uploaded prospects, and credit purchases.

-- name: prospect_upload_token_insert
-- upload_prospects: a new link for an innovator; only the token's hash is stored.
INSERT INTO prospect_upload_tokens (innovator_id, token_sha256, csrf_secret, expires_at)
VALUES (%(innovator_id)s, %(token_sha256)s, %(csrf_secret)s, %(expires_at)s)
RETURNING id, innovator_id, csrf_secret, expires_at, used_at, preview_batch_id, preview_rows,
          preview_file_name, upload_batch_id, rows_written;

-- name: prospect_upload_token_by_hash
-- The link a request names, locked so a double-submitted confirmation waits for the first.
SELECT id, innovator_id, csrf_secret, expires_at, used_at, preview_batch_id, preview_rows,
       preview_file_name, upload_batch_id, rows_written
  FROM prospect_upload_tokens
 WHERE token_sha256 = %(token_sha256)s
   FOR UPDATE;

-- name: prospect_upload_token_set_preview
-- A checked file waits on its link until the innovator confirms (a new upload replaces it).
UPDATE prospect_upload_tokens
   SET preview_batch_id = %(preview_batch_id)s,
       preview_rows = %(preview_rows)s,
       preview_file_name = %(preview_file_name)s
 WHERE id = %(id)s AND used_at IS NULL;

-- name: prospect_upload_token_mark_used
-- Confirmation: the link is spent and names the batch it wrote.
UPDATE prospect_upload_tokens
   SET used_at = %(now)s, upload_batch_id = %(upload_batch_id)s, rows_written = %(rows_written)s,
       preview_rows = NULL
 WHERE id = %(id)s AND used_at IS NULL;

-- name: prospects_insert
-- One uploaded prospect of a batch.
INSERT INTO prospects (innovator_id, email, phone_number, linkedin_url, first_name, last_name,
                       company, title, upload_source, upload_batch_id, metadata)
VALUES (%(innovator_id)s, %(email)s, %(phone_number)s, %(linkedin_url)s, %(first_name)s,
        %(last_name)s, %(company)s, %(title)s, 'csv', %(upload_batch_id)s, %(metadata)s)
RETURNING id;

-- name: prospects_of_batch
-- The prospects one upload wrote (tests, ops).
SELECT id, innovator_id, email, phone_number, linkedin_url, first_name, last_name, company, title,
       upload_batch_id, status
  FROM prospects
 WHERE upload_batch_id = %(upload_batch_id)s
 ORDER BY created_at, id;

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
