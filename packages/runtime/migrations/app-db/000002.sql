-- Which executor instance owns a workflow, as far as its transactions are concerned. A transaction
-- commits its output only while this row names its executor (the same statement checks it and
-- locks the row); an executor that adopts a workflow rewrites the row first, so a transaction of the
-- process it took the workflow from can no longer commit.
CREATE TABLE operon.workflow_owners (
  workflow_uuid TEXT PRIMARY KEY,
  owner         TEXT NOT NULL,
  -- The owner's epoch (workflow_status.owner_epoch): an adopter's rewrite lands only over an older
  -- one, so a stale adopter can never take the fence back from a newer owner.
  epoch         INTEGER NOT NULL
);

CREATE FUNCTION operon.fenced(workflow TEXT) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'OP001', MESSAGE = format('workflow %s is owned by another executor: this one was fenced', workflow);
END $$;
