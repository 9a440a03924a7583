-- Writes of the fleet app's transactions, one row per committed run, with the process that ran it.
CREATE TABLE fleet_writes (
  seq BIGSERIAL PRIMARY KEY,
  workflow_uuid TEXT NOT NULL,
  step INT NOT NULL,
  pid INT NOT NULL,
  written_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
-- One counter row a transaction locks while it runs (the paused-mid-transaction regression).
CREATE TABLE fleet_counters (id INT PRIMARY KEY, n INT NOT NULL);
INSERT INTO fleet_counters VALUES (1, 0);
