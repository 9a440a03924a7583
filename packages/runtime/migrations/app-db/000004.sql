-- When a committed transaction began (epoch ms; created_at is its commit). NULL in records written
-- before it was recorded.
ALTER TABLE operon.transaction_outputs ADD COLUMN started_at BIGINT;
