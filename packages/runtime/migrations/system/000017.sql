-- The workflows each fork reads records of: the original it was forked from (from a step after
-- 0), and, for a fork of a fork, every workflow that one reads from. A fork's copies of the
-- original's child starts point at the original's children, of the original's family: retention
-- keeps a family while a fork of any of its members has not ended and aged past the period. A
-- table of its own, so this migration neither rewrites nor locks the workflow table for writes.
CREATE TABLE operon.fork_sources (
  source_uuid TEXT NOT NULL,
  fork_uuid   TEXT NOT NULL,
  PRIMARY KEY (source_uuid, fork_uuid)
);
-- Retention deletes a fork's rows with the fork.
CREATE INDEX fork_sources_fork ON operon.fork_sources (fork_uuid);

-- Forks made before this table, from the request each one's row keeps.
INSERT INTO operon.fork_sources (source_uuid, fork_uuid)
WITH RECURSIVE direct AS (
  SELECT (fork_request::jsonb ->> 'workflowUUID') AS source_uuid, workflow_uuid AS fork_uuid FROM operon.workflow_status
  WHERE fork_request IS NOT NULL AND (fork_request::jsonb ->> 'fromStep')::bigint > 0
), closure (source_uuid, fork_uuid) AS (
  SELECT source_uuid, fork_uuid FROM direct
  UNION
  SELECT d.source_uuid, c.fork_uuid FROM closure c JOIN direct d ON d.fork_uuid = c.source_uuid
)
SELECT source_uuid, fork_uuid FROM closure WHERE source_uuid IS NOT NULL ON CONFLICT DO NOTHING;
