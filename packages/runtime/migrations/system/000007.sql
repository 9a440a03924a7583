-- Queues. An enqueued workflow is a workflow_status row with status 'ENQUEUED' and the queue
-- columns below; an executor that takes it (operon.dequeue) flips it to 'PENDING', owned by that
-- executor. Running slots are derived (the queue's PENDING rows), never counted in a column, so
-- nothing can leak: a dead executor's rows keep their slots until adopted, then go on.
ALTER TABLE operon.workflow_status
  ADD COLUMN queue_name TEXT,
  ADD COLUMN queue_priority INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN queue_deduplication_id TEXT,
  ADD COLUMN queue_partition_key TEXT,
  -- Epoch ms (the runtime's clock) before which it may not start: enqueue time plus its delay.
  ADD COLUMN queue_not_before BIGINT,
  -- Enqueue order among equal priorities.
  ADD COLUMN queue_seq BIGINT,
  -- When it was dequeued (the runtime's clock): what a rate window counts.
  ADD COLUMN queue_started_at BIGINT;
CREATE SEQUENCE operon.queue_seq;

-- The dequeue's scan: a queue's waiting rows in start order, covering what it filters on.
CREATE INDEX workflow_status_queue_waiting ON operon.workflow_status (queue_name, queue_priority, queue_seq)
  INCLUDE (queue_not_before, queue_partition_key, workflow_name) WHERE status = 'ENQUEUED';
-- Running slots: a queue's PENDING rows, by owner and partition.
CREATE INDEX workflow_status_queue_running ON operon.workflow_status (queue_name, owner)
  INCLUDE (queue_partition_key) WHERE status = 'PENDING' AND queue_name IS NOT NULL;
-- Rate windows: a queue's starts by time.
CREATE INDEX workflow_status_queue_starts ON operon.workflow_status (queue_name, queue_started_at) WHERE queue_started_at IS NOT NULL;
-- A deduplication id is held while its workflow waits or runs, and free once it ends.
CREATE UNIQUE INDEX workflow_status_queue_deduplication ON operon.workflow_status (queue_name, queue_deduplication_id)
  WHERE status IN ('ENQUEUED', 'PENDING') AND queue_deduplication_id IS NOT NULL;

-- One row per queue an executor serves, with the limits it was last registered with (for display),
-- and the row competing dequeuers of the queue lock in turn: they wait, never abort.
CREATE TABLE operon.queues (
  queue_name TEXT PRIMARY KEY,
  limits     TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);

-- Takes work from many queues in one call. Per queue (in name order, so two callers never lock in
-- opposite orders): skip it if nothing is ready; lock its row (a competing dequeuer of the queue
-- waits here, under READ COMMITTED each later statement sees what the previous holder committed);
-- count what runs (over all executors, in this one, per partition) and what started within the rate
-- window; take the next ready rows in (priority, enqueue order), at most what every limit leaves
-- and at most p_batch, and flip them to PENDING owned by the caller. A NULL limit is no limit.
-- Only workflows the caller registers (p_workflows) are taken: an executor of another version of
-- the app leaves what it cannot run to those that can.
CREATE FUNCTION operon.dequeue(
  p_owner TEXT, p_executor_id TEXT, p_now BIGINT, p_batch INTEGER,
  p_queues TEXT[], p_concurrency INTEGER[], p_worker_concurrency INTEGER[],
  p_rate_limit INTEGER[], p_rate_period_ms BIGINT[], p_partition_concurrency INTEGER[], p_workflows TEXT[]
) RETURNS SETOF operon.workflow_status LANGUAGE plpgsql AS $$
DECLARE
  q TEXT;
  free INTEGER;
  n INTEGER;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_queues, 1), 0) LOOP
    q := p_queues[i];
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM operon.workflow_status
      WHERE status = 'ENQUEUED' AND queue_name = q AND queue_not_before <= p_now AND workflow_name = ANY(p_workflows));
    PERFORM 1 FROM operon.queues WHERE queue_name = q FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO operon.queues (queue_name, limits, updated_at) VALUES (q, '{}', p_now) ON CONFLICT DO NOTHING;
      PERFORM 1 FROM operon.queues WHERE queue_name = q FOR UPDATE;
    END IF;
    free := p_batch;
    IF p_concurrency[i] IS NOT NULL THEN
      SELECT count(*) INTO n FROM operon.workflow_status WHERE status = 'PENDING' AND queue_name = q;
      free := least(free, p_concurrency[i] - n);
    END IF;
    IF p_worker_concurrency[i] IS NOT NULL THEN
      SELECT count(*) INTO n FROM operon.workflow_status WHERE status = 'PENDING' AND queue_name = q AND owner = p_owner;
      free := least(free, p_worker_concurrency[i] - n);
    END IF;
    IF p_rate_limit[i] IS NOT NULL THEN
      SELECT count(*) INTO n FROM operon.workflow_status WHERE queue_name = q AND queue_started_at > p_now - p_rate_period_ms[i];
      free := least(free, p_rate_limit[i] - n);
    END IF;
    CONTINUE WHEN free <= 0;
    RETURN QUERY
      WITH running AS (
        SELECT queue_partition_key AS pk, count(*) AS n FROM operon.workflow_status
        WHERE p_partition_concurrency[i] IS NOT NULL AND status = 'PENDING' AND queue_name = q GROUP BY queue_partition_key
      ), ready AS (
        -- A bounded window of the queue's head: a queue with a huge backlog costs no more than a small one.
        SELECT w.workflow_uuid, w.queue_priority, w.queue_seq, w.queue_partition_key FROM operon.workflow_status w
        WHERE w.status = 'ENQUEUED' AND w.queue_name = q AND w.queue_not_before <= p_now AND w.workflow_name = ANY(p_workflows)
        ORDER BY w.queue_priority, w.queue_seq
        LIMIT CASE WHEN p_partition_concurrency[i] IS NULL THEN free ELSE greatest(free * 20, 1000) END
      ), ranked AS (
        SELECT r.*, row_number() OVER (PARTITION BY r.queue_partition_key ORDER BY r.queue_priority, r.queue_seq) AS nth FROM ready r
      ), chosen AS (
        SELECT k.workflow_uuid FROM ranked k LEFT JOIN running ON running.pk = k.queue_partition_key
        WHERE p_partition_concurrency[i] IS NULL OR k.nth + coalesce(running.n, 0) <= p_partition_concurrency[i]
        ORDER BY k.queue_priority, k.queue_seq LIMIT free
      ), locked AS (
        SELECT w.workflow_uuid FROM operon.workflow_status w
        WHERE w.workflow_uuid IN (SELECT workflow_uuid FROM chosen) AND w.status = 'ENQUEUED'
        FOR UPDATE SKIP LOCKED
      )
      UPDATE operon.workflow_status w
        SET status = 'PENDING', owner = p_owner, executor_id = p_executor_id, queue_started_at = p_now, updated_at = p_now
      FROM locked WHERE w.workflow_uuid = locked.workflow_uuid
      RETURNING w.*;
  END LOOP;
END $$;
