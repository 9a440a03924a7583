/**
 * Coalesces one kind of write issued by many workflows at once into one statement. Items that
 * arrive in the same event-loop turn share a round trip and a commit; each caller still resumes
 * only once that commit is done, so nothing is visible before it is durable. A lone item (the
 * sequential case) costs exactly what its own statement would.
 *
 * If a batch of several fails for a reason other than the database being away, each item is
 * retried on its own, so one bad value cannot fail the writes that happened to share its batch.
 */
import { isInfrastructureFailure, markIfUnavailable } from '../database/infrastructure-failure.js';

interface Pending<T> {
  readonly item: T;
  resolve(): void;
  reject(error: unknown): void;
}

export class StatementBatcher<T> {
  private queue: Pending<T>[] = [];
  private scheduled = false;

  constructor(
    /** Writes all `items` in one statement. */
    private readonly write: (items: readonly T[]) => Promise<void>,
    private readonly maxBatch = 200,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let i = 0; i < queue.length; i += this.maxBatch) void this.run(queue.slice(i, i + this.maxBatch));
  }

  private async run(batch: Pending<T>[]): Promise<void> {
    try {
      await this.write(batch.map((p) => p.item));
      for (const p of batch) p.resolve();
    } catch (error) {
      if (batch.length === 1 || isInfrastructureFailure(markIfUnavailable(error))) {
        for (const p of batch) p.reject(error);
        return;
      }
      await Promise.all(batch.map((p) => this.run([p])));
    }
  }
}
