-- The dequeue skips the workflows of versions the caller cannot load (p_skip_versions): such a
-- workflow waits ENQUEUED for an executor that can load it, and takes no slot of its queue while
-- it waits (a PENDING one counts against the queue's concurrency, and one no executor can load
-- would hold its slot for ever). Called with the old arguments, it skips none.
DROP FUNCTION operon.dequeue(TEXT, TEXT, BIGINT, INTEGER, TEXT[], INTEGER[], INTEGER[], INTEGER[], BIGINT[], INTEGER[], TEXT[]);
CREATE FUNCTION operon.dequeue(
  p_owner TEXT, p_executor_id TEXT, p_now BIGINT, p_batch INTEGER,
  p_queues TEXT[], p_concurrency INTEGER[], p_worker_concurrency INTEGER[],
  p_rate_limit INTEGER[], p_rate_period_ms BIGINT[], p_partition_concurrency INTEGER[], p_workflows TEXT[],
  p_skip_versions TEXT[] DEFAULT '{}'
) RETURNS SETOF operon.workflow_status LANGUAGE plpgsql AS $$
DECLARE
  q TEXT;
  free INTEGER;
  n INTEGER;
  ready_here BOOLEAN;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_queues, 1), 0) LOOP
    q := p_queues[i];
    -- Every statement here is planned at each call with its values (EXECUTE): a cached generic plan
    -- does not know how many rows the queue has, and may scan all waiting rows of every queue (a big
    -- backlog then slows the dequeue of every small queue) instead of this queue's index range.
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM operon.workflow_status WHERE status = ''ENQUEUED'' AND queue_name = $1
      AND queue_not_before <= $2 AND workflow_name = ANY($3) AND (version IS NULL OR version <> ALL($4)))'
      INTO ready_here USING q, p_now, p_workflows, p_skip_versions;
    CONTINUE WHEN NOT ready_here;
    PERFORM 1 FROM operon.queues WHERE queue_name = q FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO operon.queues (queue_name, limits, updated_at) VALUES (q, '{}', p_now) ON CONFLICT DO NOTHING;
      PERFORM 1 FROM operon.queues WHERE queue_name = q FOR UPDATE;
    END IF;
    free := p_batch;
    IF p_concurrency[i] IS NOT NULL THEN
      EXECUTE 'SELECT count(*) FROM operon.workflow_status WHERE status = ''PENDING'' AND queue_name = $1' INTO n USING q;
      free := least(free, p_concurrency[i] - n);
    END IF;
    IF p_worker_concurrency[i] IS NOT NULL THEN
      EXECUTE 'SELECT count(*) FROM operon.workflow_status WHERE status = ''PENDING'' AND queue_name = $1 AND owner = $2' INTO n USING q, p_owner;
      free := least(free, p_worker_concurrency[i] - n);
    END IF;
    IF p_rate_limit[i] IS NOT NULL THEN
      EXECUTE 'SELECT count(*) FROM operon.workflow_status WHERE queue_name = $1 AND queue_started_at > $2' INTO n USING q, p_now - p_rate_period_ms[i];
      free := least(free, p_rate_limit[i] - n);
    END IF;
    CONTINUE WHEN free <= 0;
    RETURN QUERY EXECUTE $q$
      WITH running AS (
        SELECT queue_partition_key AS pk, count(*) AS n FROM operon.workflow_status
        WHERE $6::integer IS NOT NULL AND status = 'PENDING' AND queue_name = $1 GROUP BY queue_partition_key
      ), ready AS (
        -- A bounded window of the queue's head: a queue with a huge backlog costs no more than a small one.
        SELECT w.workflow_uuid, w.queue_priority, w.queue_seq, w.queue_partition_key FROM operon.workflow_status w
        WHERE w.status = 'ENQUEUED' AND w.queue_name = $1 AND w.queue_not_before <= $2 AND w.workflow_name = ANY($3)
          AND (w.version IS NULL OR w.version <> ALL($9))
        ORDER BY w.queue_priority, w.queue_seq
        LIMIT $4
      ), ranked AS (
        SELECT r.*, row_number() OVER (PARTITION BY r.queue_partition_key ORDER BY r.queue_priority, r.queue_seq) AS nth FROM ready r
      ), chosen AS (
        SELECT k.workflow_uuid FROM ranked k LEFT JOIN running ON running.pk = k.queue_partition_key
        WHERE $6::integer IS NULL OR k.nth + coalesce(running.n, 0) <= $6::integer
        ORDER BY k.queue_priority, k.queue_seq LIMIT $5
      ), locked AS (
        SELECT w.workflow_uuid FROM operon.workflow_status w
        WHERE w.workflow_uuid IN (SELECT workflow_uuid FROM chosen) AND w.status = 'ENQUEUED'
        FOR UPDATE SKIP LOCKED
      )
      UPDATE operon.workflow_status w
        SET status = 'PENDING', owner = $7, executor_id = $8, queue_started_at = $2, updated_at = $2
      FROM locked WHERE w.workflow_uuid = locked.workflow_uuid
      RETURNING w.*
    $q$ USING q, p_now, p_workflows,
      CASE WHEN p_partition_concurrency[i] IS NULL THEN free ELSE greatest(free * 20, 1000) END,
      free, p_partition_concurrency[i], p_owner, p_executor_id, p_skip_versions;
  END LOOP;
END $$;
