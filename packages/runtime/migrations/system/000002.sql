-- What a workflow row stands for is a column, not a name prefix: 'workflow' (a @Workflow method)
-- or 'operation' (one transaction or communicator invoked from outside any workflow, run as a
-- workflow of one operation so that it too is idempotent under its UUID).
ALTER TABLE operon.workflow_status ADD COLUMN kind TEXT NOT NULL DEFAULT 'workflow';
UPDATE operon.workflow_status
  SET kind = 'operation', workflow_name = substr(workflow_name, length('operon.temporary:') + 1)
  WHERE workflow_name LIKE 'operon.temporary:%';
ALTER TABLE operon.workflow_status ADD CONSTRAINT workflow_status_kind CHECK (kind IN ('workflow', 'operation'));
