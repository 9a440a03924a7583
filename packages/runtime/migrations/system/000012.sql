-- operon:outside-transaction
-- The list's queue and version filters, each with its own index in the list's order (newest
-- first), so their first page reads one page of entries. Built CONCURRENTLY: writes to the table
-- go on while each is built (a plain CREATE INDEX would block every status write of every running
-- workflow for as long as the build takes). Each is built only if missing: a build begun again
-- after one that died keeps what the dead one finished (the migrator drops the invalid index a
-- build that died midway leaves behind, before it runs these).
CREATE INDEX CONCURRENTLY IF NOT EXISTS workflow_status_queue_created ON operon.workflow_status (queue_name, created_at DESC, workflow_uuid DESC) WHERE queue_name IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS workflow_status_version_created ON operon.workflow_status (version, created_at DESC, workflow_uuid DESC) WHERE version IS NOT NULL;
