/**
 * Retention (`management.retentionDays`): every executor deletes ended workflows older than that,
 * once after it starts serving and then every hour, walking the workflows in batches of a few
 * hundred with a pause between them, so running work always gets the database between two
 * batches. Several executors sweeping at once never wait for each other (each batch skips rows
 * another one holds); what one skipped, the next sweep deletes. A sweep first deletes the
 * app-database records of workflows an earlier sweep (of any executor) deleted but was cut off
 * before it deleted those.
 */
import type { Logger } from 'pino';
import type { SystemDatabase } from '../system-db/system-database.js';

export interface RetentionOptions {
  readonly retentionDays: number;
  /** Workflows looked at per statement. @default 500 */
  readonly batchSize?: number;
  /** The pause between two batches. @default 20 */
  readonly pauseMs?: number;
  /** Between two sweeps. @default one hour */
  readonly intervalMs?: number;
}

const DAY_MS = 86_400_000;

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  private readonly batchSize: number;
  private readonly pauseMs: number;
  private readonly intervalMs: number;

  constructor(
    private readonly systemDb: SystemDatabase,
    /** The runtime's clock: a workflow's age is workflow time. */
    private readonly clock: { now(): number },
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.pauseMs = options.pauseMs ?? 20;
    this.intervalMs = options.intervalMs ?? 3_600_000;
  }

  /** Sweeps now, then every interval, until {@link stop}. */
  start(): void {
    const tick = () => {
      this.timer = undefined;
      void this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'deleting old workflows failed; trying again at the next sweep'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    tick();
  }

  /** Deletes every ended workflow past the retention period, batch by batch; returns how many. One sweep at a time. */
  sweep(): Promise<number> {
    this.running ??= this.deleteAll().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async deleteAll(): Promise<number> {
    const before = this.clock.now() - this.options.retentionDays * DAY_MS;
    let deleted = 0;
    let after = '';
    await this.deleteLeftovers();
    while (!this.stopped) {
      const batch = await this.systemDb.deleteEndedWorkflows(before, after, this.batchSize);
      deleted += batch.deleted.length;
      await this.deleteAppRecords(batch.deleted);
      if (batch.lastUUID === undefined) break;
      after = batch.lastUUID;
      await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
    }
    if (deleted > 0) this.logger.info({ deleted, retentionDays: this.options.retentionDays }, `deleted ${deleted} workflows that ended more than ${this.options.retentionDays} days ago`);
    return deleted;
  }

  /** The app-database records of workflows earlier sweeps deleted and were cut off before those. */
  private async deleteLeftovers(): Promise<void> {
    for (;;) {
      const leftovers = await this.systemDb.retentionLeftovers(this.batchSize);
      if (leftovers.length === 0) return;
      // A UUID taken again since holds the new workflow's records now: those are not the old one's to delete.
      await this.deleteAppRecords(
        leftovers.filter((l) => !l.reused).map((l) => l.workflowUUID),
        leftovers.map((l) => l.workflowUUID),
      );
      if (leftovers.length < this.batchSize) return;
    }
  }

  private async deleteAppRecords(workflowUUIDs: readonly string[], leftovers: readonly string[] = workflowUUIDs): Promise<void> {
    await this.systemDb.deleteTransactionRecords(workflowUUIDs);
    await this.systemDb.forgetRetentionLeftovers(leftovers);
  }
}
