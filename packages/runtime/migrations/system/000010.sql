-- A fork's committed transaction outputs still to be copied into the app database. A fork creates
-- its workflow in the system database in one statement, with this note; the executor that adopts
-- it copies the outputs under the new UUID before running it, and only then deletes the note. So
-- nothing is written under a UUID in the app database before the system database gives it to the
-- fork, and a copy cut off anywhere is made again by the next adopter.
CREATE TABLE operon.fork_copies (
  workflow_uuid TEXT PRIMARY KEY REFERENCES operon.workflow_status (workflow_uuid) ON DELETE CASCADE,
  -- The original: its outputs with operation ids below from_step are the fork's.
  source_uuid   TEXT NOT NULL,
  from_step     INTEGER NOT NULL
);
