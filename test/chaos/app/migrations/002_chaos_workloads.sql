-- The tables of the saga, fan-out and values workloads. Like chaos_orders, no unique keys: a
-- duplicate must show up as a second row the checks count, not as a constraint violation.
CREATE TABLE chaos_ledger (
  seq BIGSERIAL PRIMARY KEY,
  transfer_id TEXT NOT NULL,
  -- 'debit', then exactly one settlement: 'completion' or 'compensation'
  kind TEXT NOT NULL,
  amount BIGINT NOT NULL,
  -- for a compensation: the message of the error the saga caught
  reason TEXT,
  workflow_uuid TEXT NOT NULL
);
CREATE INDEX chaos_ledger_transfer_id ON chaos_ledger (transfer_id);

CREATE TABLE chaos_fanout_writes (
  seq BIGSERIAL PRIMARY KEY,
  fanout_id TEXT NOT NULL,
  slot INT NOT NULL,
  workflow_uuid TEXT NOT NULL
);
CREATE INDEX chaos_fanout_writes_fanout_id ON chaos_fanout_writes (fanout_id);

CREATE TABLE chaos_value_views (
  seq BIGSERIAL PRIMARY KEY,
  value_id TEXT NOT NULL,
  seen TEXT NOT NULL,
  workflow_uuid TEXT NOT NULL
);
CREATE INDEX chaos_value_views_value_id ON chaos_value_views (value_id);
