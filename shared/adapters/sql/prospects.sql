-- Prospects (issue 13; agents.md §5, §14): the innovators' single-use upload links and the rows they write.

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

-- name: prospects_known_contacts
-- The emails, phones and LinkedIn URLs among the given ones that the innovator's earlier uploads hold.
SELECT 'email' AS field, lower(email) AS value
  FROM prospects
 WHERE innovator_id = %(innovator_id)s AND lower(email) = ANY(%(emails)s::text[])
UNION
SELECT 'phone_number', phone_number
  FROM prospects
 WHERE innovator_id = %(innovator_id)s AND phone_number = ANY(%(phones)s::text[])
UNION
SELECT 'linkedin_url', lower(linkedin_url)
  FROM prospects
 WHERE innovator_id = %(innovator_id)s AND lower(linkedin_url) = ANY(%(linkedins)s::text[]);
