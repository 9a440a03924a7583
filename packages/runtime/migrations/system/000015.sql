-- The fork or restart request that created a workflow (JSON: action, the original's UUID,
-- fromStep, version, the new UUID), written by the statement that creates it. The same request
-- again is recognised on the workflow's own row, by its key: never from the audit log, which
-- would take a workflow a client started later under a UUID whose fork retention deleted for
-- that fork.
ALTER TABLE operon.workflow_status ADD COLUMN fork_request TEXT;

-- Forks made before this column: their request, from the audit entry written with them (the
-- entry and the row are stamped within the same moment; a later workflow under a reused UUID is
-- days younger than any entry retention let it replace).
UPDATE operon.workflow_status w SET fork_request = (jsonb_build_object('action', a.action) || a.request::jsonb)::text
FROM operon.audit_log a
WHERE a.action IN ('fork', 'restart') AND a.changed = 1 AND cardinality(a.workflow_uuids) = 1
  AND w.workflow_uuid = a.workflow_uuids[1] AND abs(w.created_at - a.at) < 1000 AND w.fork_request IS NULL;
