-- The system schema's first version: workflow status, operation records, messages and events.
CREATE SCHEMA IF NOT EXISTS operon;

CREATE TABLE operon.workflow_status (
  workflow_uuid       TEXT PRIMARY KEY,
  status              TEXT NOT NULL,
  workflow_name       TEXT NOT NULL,
  executor_id         TEXT NOT NULL,
  inputs              TEXT NOT NULL,
  output              TEXT,
  error               TEXT,
  authenticated_user  TEXT NOT NULL DEFAULT '',
  assumed_role        TEXT NOT NULL DEFAULT '',
  authenticated_roles TEXT NOT NULL DEFAULT '[]',
  request             TEXT,
  parent_uuid         TEXT,
  recovery_attempts   INTEGER NOT NULL DEFAULT 0,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
);
-- Recovery scans only the PENDING workflows of one executor.
CREATE INDEX workflow_status_pending ON operon.workflow_status (executor_id) WHERE status = 'PENDING';

-- Outputs and errors of communicators, child-workflow starts, sends, recvs, events, sleeps (their
-- deadlines) and of transactions that failed (a committed transaction records in the app database
-- instead).
CREATE TABLE operon.operation_outputs (
  workflow_uuid TEXT NOT NULL,
  function_id   INTEGER NOT NULL,
  function_name TEXT NOT NULL,
  output        TEXT,
  error         TEXT,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (workflow_uuid, function_id)
);

-- Messages not yet received. A row is deleted by the recv that consumes it, in the same statement
-- that records the recv's output, so a message is received exactly once. A NULL topic is the
-- default topic: no string a caller can pass equals it.
CREATE TABLE operon.notifications (
  message_id       BIGSERIAL PRIMARY KEY,
  destination_uuid TEXT NOT NULL,
  topic            TEXT,
  message          TEXT NOT NULL,
  created_at       BIGINT NOT NULL
);
-- recv takes the oldest message of one (destination, topic); btree serves `topic IS NULL` too.
CREATE INDEX notifications_destination ON operon.notifications (destination_uuid, topic, message_id);

-- Idempotency keys of sends made from outside a workflow. Kept apart from the messages because a
-- consumed message is deleted, and a key must still refuse a second delivery after that.
CREATE TABLE operon.message_idempotency_keys (
  idempotency_key  TEXT PRIMARY KEY,
  destination_uuid TEXT NOT NULL,
  created_at       BIGINT NOT NULL
);

-- The latest value of each event a workflow set (last write wins).
CREATE TABLE operon.workflow_events (
  workflow_uuid TEXT NOT NULL,
  key           TEXT NOT NULL,
  value         TEXT NOT NULL,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (workflow_uuid, key)
);
