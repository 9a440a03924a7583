/**
 * How a queue is shown, by `GET /operon/queues` and `operon queues --json` alike: its limits (as
 * its executors last registered them), its workflows by status, how long the oldest has waited,
 * and how many run in each executor.
 */
import type { QueueSummary } from '../system-db/system-database.js';

export interface QueueView {
  readonly name: string;
  readonly concurrency: number | null;
  readonly workerConcurrency: number | null;
  readonly rateLimit: { readonly limitPerPeriod: number; readonly periodSec: number } | null;
  readonly partitionConcurrency: number | null;
  /** Workflows of the queue by status: ENQUEUED (waiting), PENDING (running), SUCCESS, ERROR, … */
  readonly counts: Readonly<Record<string, number>>;
  /** ISO 8601 enqueue time of the oldest ENQUEUED workflow; null when none waits. */
  readonly oldestWaitingSince: string | null;
  /** PENDING workflows of the queue per executor id. */
  readonly runningByExecutor: Readonly<Record<string, number>>;
}

export function queueView(summary: QueueSummary): QueueView {
  return {
    name: summary.name,
    concurrency: summary.limits.concurrency ?? null,
    workerConcurrency: summary.limits.workerConcurrency ?? null,
    rateLimit: summary.limits.rateLimit ?? null,
    partitionConcurrency: summary.limits.partitionConcurrency ?? null,
    counts: summary.counts,
    oldestWaitingSince: summary.oldestWaitingAt === null ? null : new Date(summary.oldestWaitingAt).toISOString(),
    runningByExecutor: summary.running,
  };
}
