-- Managing workflows. The list pages newest first by (created_at, workflow_uuid), keyset: each
-- filter the list offers often has its own index, so a first page reads one page of entries
-- however many rows the table holds.
CREATE INDEX workflow_status_created ON operon.workflow_status (created_at DESC, workflow_uuid DESC);
CREATE INDEX workflow_status_status_created ON operon.workflow_status (status, created_at DESC, workflow_uuid DESC);
CREATE INDEX workflow_status_name_created ON operon.workflow_status (workflow_name, created_at DESC, workflow_uuid DESC);
-- Children of a workflow: its detail lists them, and a cancel walks the whole tree down.
CREATE INDEX workflow_status_parent ON operon.workflow_status (parent_uuid) WHERE parent_uuid IS NOT NULL;

-- Every change made through the management API or CLI: who, when, what, which workflows.
CREATE TABLE operon.audit_log (
  audit_id       BIGSERIAL PRIMARY KEY,
  at             BIGINT NOT NULL,
  actor          TEXT NOT NULL,
  -- 'cancel', 'resume', 'restart', 'fork', 'bulk-cancel', 'bulk-resume'.
  action         TEXT NOT NULL,
  -- What was asked (the UUID, a filter, a fork's step), as JSON text.
  request        TEXT NOT NULL,
  workflow_uuids TEXT[] NOT NULL,
  -- How many workflows the change changed.
  changed        INTEGER NOT NULL
);
