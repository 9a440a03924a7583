-- Workflows retention deleted from the system database whose records in the app database
-- (transaction outputs, fence rows) are still to delete: written by the statement that deletes
-- the workflows, removed once those records are gone. A sweep whose answer was lost, or whose
-- process died in between, leaves them here for the next sweep of any executor, instead of in the
-- app database for good, where a workflow started later under the same UUID would meet another
-- workflow's fence row (and be fenced out) and its outputs.
CREATE TABLE operon.retention_leftovers (
  workflow_uuid TEXT PRIMARY KEY
);
