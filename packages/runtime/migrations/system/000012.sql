-- operon:outside-transaction
-- The list's queue and version filters, each with its own index in the list's order (newest
-- first), so their first page reads one page of entries. Built CONCURRENTLY: writes to the table
-- go on while each is built (a plain CREATE INDEX would block every status write of every running
-- workflow for as long as the build takes). A build that failed midway leaves an invalid index
-- behind, so each is dropped first: running this again builds it anew.
DROP INDEX CONCURRENTLY IF EXISTS operon.workflow_status_queue_created;
CREATE INDEX CONCURRENTLY workflow_status_queue_created ON operon.workflow_status (queue_name, created_at DESC, workflow_uuid DESC) WHERE queue_name IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS operon.workflow_status_version_created;
CREATE INDEX CONCURRENTLY workflow_status_version_created ON operon.workflow_status (version, created_at DESC, workflow_uuid DESC) WHERE version IS NOT NULL;
