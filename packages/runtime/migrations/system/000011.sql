-- The committed transaction outputs a fork takes, as they were when the fork was made: written
-- with the fork's workflow, in its one statement, and copied into the app database by the executor
-- that adopts it (then deleted with the fork's note). Read from the original only at the adoption,
-- they changed with it meanwhile: retention deleting the ended original left the fork nothing to
-- replay, and a fork of a fork not yet adopted found none. A note written before this (its
-- source_uuid set) is still copied from its original.
CREATE TABLE operon.fork_outputs (
  workflow_uuid TEXT NOT NULL REFERENCES operon.fork_copies (workflow_uuid) ON DELETE CASCADE,
  function_id   INTEGER NOT NULL,
  function_name TEXT NOT NULL,
  output        TEXT,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (workflow_uuid, function_id)
);
ALTER TABLE operon.fork_copies ALTER COLUMN source_uuid DROP NOT NULL;
