-- Operon's one table in the app database: the outputs of committed transactions, written inside
-- the transaction itself so that the writes and the record commit together (exactly once).
CREATE SCHEMA IF NOT EXISTS operon;

CREATE TABLE operon.transaction_outputs (
  workflow_uuid TEXT NOT NULL,
  function_id   INTEGER NOT NULL,
  function_name TEXT NOT NULL,
  output        TEXT,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (workflow_uuid, function_id)
);
