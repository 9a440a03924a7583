-- An idempotency key belongs to the destination it was sent to: with one global key space, a
-- client that used a key for its own workflow silently blocked any other client's message that
-- happened to carry the same key to another workflow.
ALTER TABLE operon.message_idempotency_keys DROP CONSTRAINT message_idempotency_keys_pkey;
ALTER TABLE operon.message_idempotency_keys ADD PRIMARY KEY (destination_uuid, idempotency_key);
