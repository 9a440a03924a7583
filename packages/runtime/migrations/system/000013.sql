-- What a step's record tells beyond its outcome: when the operation began (epoch ms; created_at is
-- its end), and for a send, recv, setEvent or getEvent what it addressed, as JSON:
-- {"destinationUUID", "topic"} (a send), {"topic"} (a recv and its deadline), {"key"} (a setEvent),
-- {"workflowUUID", "key"} (a getEvent and its deadline); "topic" null is the default topic. Both
-- NULL in records written before they were recorded.
ALTER TABLE operon.operation_outputs ADD COLUMN started_at BIGINT, ADD COLUMN detail TEXT;
