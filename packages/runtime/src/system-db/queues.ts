/**
 * Queue SQL: enqueue (one INSERT), dequeue (one call of operon.dequeue, see migration 000007,
 * whatever mix of limits is set), the queue rows that record each queue's limits, and what
 * `GET /operon/queues` shows.
 */
import type pg from 'pg';
import { OperonQueueDuplicatedError } from '@operon/sdk';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';
import { markInfrastructure } from '../database/infrastructure-failure.js';
import { toRow, workflowRowValues, type NewWorkflow, type WorkflowRow } from './workflow-status.js';

export interface QueuePlacement {
  readonly queueName: string;
  readonly priority: number;
  readonly deduplicationID: string | null;
  readonly partitionKey: string | null;
  /** Epoch ms (the runtime's clock) before which it may not start. */
  readonly notBefore: number;
}

/** The limits of one queue as the dequeue takes them; undefined is no limit. */
export interface QueueLimits {
  readonly name: string;
  readonly concurrency?: number;
  readonly workerConcurrency?: number;
  readonly rateLimit?: { readonly limitPerPeriod: number; readonly periodSec: number };
  readonly partitionConcurrency?: number;
}

/** A workflow a dequeue took: PENDING now, owned by the caller. */
export interface DequeuedRow extends WorkflowRow {
  readonly queueName: string;
}

const DEDUPLICATION_INDEX = 'workflow_status_queue_deduplication';

/**
 * Records a new ENQUEUED workflow in one statement; false when the UUID exists already. A
 * deduplication id held by a waiting or running workflow of the queue is refused: the caller's
 * error, not the database's (so it is not marked as infrastructure, and nobody retries it).
 * A child enqueued under a CANCELLED parent is recorded CANCELLED (checked in the same statement,
 * as a child start is: see insertWorkflow), so no executor dequeues it.
 */
export async function enqueueWorkflow(pool: pg.Pool, wf: NewWorkflow, placement: QueuePlacement, now: number): Promise<boolean> {
  try {
    const child = wf.parentUUID !== null;
    const { rowCount } = await pool.query({
      name: child ? 'operon_enqueue_child_workflow' : 'operon_enqueue_workflow',
      text: `${child ? `WITH parent AS (SELECT status = 'CANCELLED' AS cancelled FROM operon.workflow_status WHERE workflow_uuid = $9 FOR SHARE)` : ''}
       INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs,
         authenticated_user, authenticated_roles, assumed_role, request, parent_uuid, created_at, updated_at,
         queue_name, queue_priority, queue_deduplication_id, queue_partition_key, queue_not_before, queue_seq, version)
       VALUES ($1, ${child ? `CASE WHEN (SELECT cancelled FROM parent) THEN 'CANCELLED' ELSE 'ENQUEUED' END` : `'ENQUEUED'`}, $2, $11, $3, $4, $5, $6, $7, $8, $9, $10, $10,
         $12, $13, $14, $15, $16, nextval('operon.queue_seq'), $17)
       ON CONFLICT (workflow_uuid) DO NOTHING`,
      values: [
        ...workflowRowValues(wf, now),
        placement.queueName,
        placement.priority,
        placement.deduplicationID,
        placement.partitionKey,
        placement.notBefore,
        wf.version,
      ],
    });
    return rowCount === 1;
  } catch (error) {
    if (sqlState(error) === SQLSTATE.UNIQUE_VIOLATION && (error as { constraint?: string }).constraint === DEDUPLICATION_INDEX) {
      throw new OperonQueueDuplicatedError(placement.queueName, placement.deduplicationID ?? '');
    }
    throw markInfrastructure(error);
  }
}

/**
 * Takes the next workflows the limits allow from each of `queues`, for `owner` if it is live: one round trip,
 * never aborted by contention (competing dequeuers of a queue wait on its row lock in turn). Only
 * workflows named in `workflows` (those the caller registers) are taken, and none of a version in
 * `skipVersions` (those the caller failed to load).
 */
export async function dequeue(
  pool: pg.Pool,
  claimer: { readonly owner: string; readonly executorId: string },
  queues: readonly QueueLimits[],
  now: number,
  batch: number,
  workflows: readonly string[],
  skipVersions: readonly string[] = [],
): Promise<DequeuedRow[]> {
  // In name order: two callers lock shared queues in the same order, so they never deadlock.
  const sorted = [...queues].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { rows } = await pool.query({
    name: 'operon_dequeue',
    // Only while the claimer is live (as a schedule's ticks start): a process paused past its lease
    // wakes taking its old instance for its own until its next heartbeat, and must not start
    // workflows under an instance the other executors declared dead. LATERAL: not called otherwise.
    text: `SELECT d.* FROM (SELECT instance_id FROM operon.executors WHERE instance_id = $1 AND state = 'live') live,
             LATERAL operon.dequeue(live.instance_id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) d`,
    values: [
      claimer.owner,
      claimer.executorId,
      now,
      batch,
      sorted.map((q) => q.name),
      sorted.map((q) => q.concurrency ?? null),
      sorted.map((q) => q.workerConcurrency ?? null),
      sorted.map((q) => q.rateLimit?.limitPerPeriod ?? null),
      sorted.map((q) => (q.rateLimit ? Math.round(q.rateLimit.periodSec * 1000) : null)),
      sorted.map((q) => q.partitionConcurrency ?? null),
      workflows,
      skipVersions,
    ],
  });
  return rows.map((r) => ({ ...toRow(r), queueName: r.queue_name as string }));
}

/**
 * Puts a workflow a dequeue of `owner` took back in its queue, in its old place (priority and
 * enqueue order kept), owner NULL and not counted as a start: it never ran here. Fenced on
 * `owner`. True if it was put back. One that ran before (epoch above 0) has its transactions
 * fenced already, to `owner` (a recovery's claim or a dequeue, at the row's epoch): its epoch
 * moves on, so the fence of whoever dequeues it next, at the new epoch, takes that one over (a
 * fence is only taken over by a newer epoch). A first run has no fence and keeps epoch 0.
 */
export async function requeueWorkflow(pool: pg.Pool, workflowUUID: string, owner: string, now: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE operon.workflow_status SET status = 'ENQUEUED', owner = NULL, queue_started_at = NULL, updated_at = $3,
       owner_epoch = owner_epoch + CASE WHEN owner_epoch > 0 THEN 1 ELSE 0 END
     WHERE workflow_uuid = $1 AND owner = $2 AND status = 'PENDING' AND queue_name IS NOT NULL`,
    [workflowUUID, owner, now],
  );
  return rowCount === 1;
}

/**
 * The workflows a dequeue of `owner` sent at `at` (the workflow clock) took that are still PENDING
 * with it: what a dequeue whose answer was lost may have taken (it may have committed).
 */
export async function takenBy(pool: pg.Pool, owner: string, at: number, queueNames: readonly string[]): Promise<DequeuedRow[]> {
  const { rows } = await pool.query(
    `SELECT * FROM operon.workflow_status
     WHERE status = 'PENDING' AND owner = $1 AND queue_started_at = $2 AND queue_name = ANY($3::text[])`,
    [owner, at, queueNames],
  );
  return rows.map((r) => ({ ...toRow(r), queueName: r.queue_name as string }));
}

/** Records the queues this executor serves and their limits (what `operon queues` shows). */
export async function registerQueues(pool: pg.Pool, queues: readonly QueueLimits[], now: number): Promise<void> {
  if (queues.length === 0) return;
  await pool.query(
    `INSERT INTO operon.queues (queue_name, limits, updated_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
     ON CONFLICT (queue_name) DO UPDATE SET limits = excluded.limits, updated_at = excluded.updated_at`,
    [queues.map((q) => q.name), queues.map((q) => JSON.stringify(limitsOf(q))), queues.map(() => now)],
  );
}

function limitsOf(q: QueueLimits): Omit<QueueLimits, 'name'> {
  const { name: _name, ...limits } = q;
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

export interface QueueSummary {
  readonly name: string;
  readonly limits: Omit<QueueLimits, 'name'>;
  /** Workflows of the queue by status (ENQUEUED, PENDING, SUCCESS, ERROR, …). */
  readonly counts: Record<string, number>;
  /** Enqueue time (epoch ms) of the oldest ENQUEUED workflow; null when none waits. */
  readonly oldestWaitingAt: number | null;
  /** PENDING workflows per executor id. */
  readonly running: Record<string, number>;
}

/** Every queue known to the system database (registered, or holding workflows). */
export async function listQueues(pool: pg.Pool): Promise<QueueSummary[]> {
  const [registered, counts, oldest, running] = await Promise.all([
    pool.query(`SELECT queue_name, limits FROM operon.queues`),
    pool.query(`SELECT queue_name, status, count(*)::int AS n FROM operon.workflow_status WHERE queue_name IS NOT NULL GROUP BY 1, 2`),
    pool.query(`SELECT queue_name, min(created_at) AS oldest FROM operon.workflow_status WHERE status = 'ENQUEUED' GROUP BY 1`),
    pool.query(`SELECT queue_name, executor_id, count(*)::int AS n FROM operon.workflow_status
      WHERE status = 'PENDING' AND queue_name IS NOT NULL GROUP BY 1, 2`),
  ]);
  const byName = new Map<string, { limits: Omit<QueueLimits, 'name'>; counts: Record<string, number>; oldestWaitingAt: number | null; running: Record<string, number> }>();
  const entry = (name: string) => {
    let e = byName.get(name);
    if (!e) byName.set(name, (e = { limits: {}, counts: {}, oldestWaitingAt: null, running: {} }));
    return e;
  };
  for (const r of registered.rows) entry(r.queue_name).limits = JSON.parse(r.limits);
  for (const r of counts.rows) entry(r.queue_name).counts[r.status] = r.n;
  for (const r of oldest.rows) entry(r.queue_name).oldestWaitingAt = Number(r.oldest);
  for (const r of running.rows) entry(r.queue_name).running[r.executor_id] = r.n;
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, e]) => ({ name, ...e }));
}
