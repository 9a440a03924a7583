-- The chaos app's tables. order_id and receipt order_id are deliberately NOT unique: a duplicate
-- must show up as a second row the checks can count, not be hidden by a constraint violation.
CREATE TABLE chaos_orders (
  seq BIGSERIAL PRIMARY KEY,
  order_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  workflow_uuid TEXT NOT NULL,
  token TEXT,
  confirmations INT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chaos_orders_order_id ON chaos_orders (order_id);

CREATE TABLE chaos_receipts (
  seq BIGSERIAL PRIMARY KEY,
  order_id TEXT NOT NULL,
  collector_uuid TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chaos_receipts_order_id ON chaos_receipts (order_id);
