-- A cancel marks its workflows here too, where their transactions commit: the statement that
-- commits a transaction returns the mark, so a run that never heard the cancel's notification
-- stops after that transaction instead of starting one more operation. A resume clears it. A
-- workflow with no row yet (no transaction committed, never adopted) gets one with no owner ('',
-- epoch -1): its first transaction's commit takes that row over, an adopter's fence replaces it.
ALTER TABLE operon.workflow_owners ADD COLUMN cancelled BOOLEAN NOT NULL DEFAULT false;
