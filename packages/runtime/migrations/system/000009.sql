-- Versions: every bundle an `operon start` served, content-addressed (its id is a hash of the
-- bundle's bytes), kept so that a workflow started on it can be run on it again after a deploy.
CREATE TABLE operon.versions (
  version     TEXT PRIMARY KEY,
  bundle      BYTEA NOT NULL,
  -- The bundle's external source map (`operon build` writes one beside it), if it had one.
  source_map  BYTEA,
  first_seen  TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- The last start that served it; a live executor serving it counts as seen now.
  last_seen   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The version a workflow started on; NULL for one started without a bundle (a testing runtime, an
-- app registering its classes itself) or before versions were recorded: it runs on the code of
-- whichever executor runs it.
ALTER TABLE operon.workflow_status ADD COLUMN version TEXT;
CREATE INDEX workflow_status_open_version ON operon.workflow_status (version) WHERE status IN ('PENDING', 'ENQUEUED');

-- The version an executor serves, and every version it has loaded (its own and those of workflows
-- it runs on older code), as of its last heartbeat.
ALTER TABLE operon.executors ADD COLUMN version TEXT;
ALTER TABLE operon.executors ADD COLUMN loaded_versions TEXT[] NOT NULL DEFAULT '{}';
