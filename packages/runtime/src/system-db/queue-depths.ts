/** How many workflows each queue holds waiting (ENQUEUED) and running (PENDING), for the metrics; both counts read a partial index. */
import type pg from 'pg';

export interface QueueDepth {
  readonly queueName: string;
  readonly status: 'ENQUEUED' | 'PENDING';
  readonly workflows: number;
}

export async function queueDepths(pool: pg.Pool): Promise<QueueDepth[]> {
  const { rows } = await pool.query<{ queue_name: string; status: 'ENQUEUED' | 'PENDING'; n: number }>(
    `SELECT queue_name, status, count(*)::int AS n FROM operon.workflow_status
     WHERE status IN ('ENQUEUED', 'PENDING') AND queue_name IS NOT NULL GROUP BY 1, 2`,
  );
  return rows.map((row) => ({ queueName: row.queue_name, status: row.status, workflows: row.n }));
}
