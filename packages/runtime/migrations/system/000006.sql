-- Schedules: one row per `@Scheduled` workflow, so that a restart knows which ticks it missed.
CREATE TABLE operon.schedules (
  -- `Class.method`.
  schedule_name TEXT PRIMARY KEY,
  -- When an executor first ran the schedule (epoch ms, runtime clock): ticks before it were never due.
  since         BIGINT NOT NULL,
  -- The latest tick a run was started for (epoch ms); NULL before the first.
  last_tick     BIGINT
);
