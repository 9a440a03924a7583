-- Many runtimes on one database. Each process that runs workflows registers one row here when it
-- starts: its instance id (new at every start) is the fencing token that every write for a
-- workflow is checked against. Heartbeats use the database's clock, so no two hosts' clocks are
-- ever compared.
CREATE TABLE operon.executors (
  instance_id  TEXT PRIMARY KEY,
  -- OPERON_EXECUTOR_ID, or one generated at start; unique among live executors.
  executor_id  TEXT NOT NULL,
  host         TEXT NOT NULL,
  -- The machine and pid namespace (boot id and namespace): only a process with the same key can
  -- tell from the pid whether the executor's process still exists.
  host_key     TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  -- The application_name of its database sessions: ended when it is declared dead, so a paused
  -- process cannot keep locks its adopter waits on.
  session_tag  TEXT NOT NULL,
  started_at   BIGINT NOT NULL,
  heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  lease_ms     INTEGER NOT NULL,
  -- 'live'; 'stopped' (it handed its workflows over); 'dead' (its lease lapsed or its process is gone).
  state        TEXT NOT NULL CHECK (state IN ('live', 'stopped', 'dead'))
);
-- Two live processes never hold one executor id: the second INSERT fails on this index.
CREATE UNIQUE INDEX executors_live_id ON operon.executors (executor_id) WHERE state = 'live';

-- The instance that owns a PENDING workflow: only it may write records for it. NULL for workflows
-- started before executors were registered: the executor of their executor_id adopts them.
ALTER TABLE operon.workflow_status ADD COLUMN owner TEXT;
-- How many times the workflow changed hands: the fence in the app database only ever moves forward.
ALTER TABLE operon.workflow_status ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX workflow_status_pending_owner ON operon.workflow_status (owner) WHERE status = 'PENDING';

-- Raised (SQLSTATE OP001) by a write for a workflow its writer no longer owns.
CREATE FUNCTION operon.fenced(workflow TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'OP001', MESSAGE = format('workflow %s is owned by another executor: this one was fenced', workflow);
END $$;
