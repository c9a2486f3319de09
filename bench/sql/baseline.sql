-- The inbound webhook benchmark's baseline (bench/inbound_webhook.py): a bare one-INSERT transaction.

-- name: bench_create_baseline_table
-- The table the baseline writes to.
CREATE TABLE bench_baseline (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- name: bench_baseline_insert
-- The measured statement: one row.
INSERT INTO bench_baseline (body) VALUES (%(body)s);
