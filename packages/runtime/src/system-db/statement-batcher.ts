/**
 * Coalesces one kind of write issued by many workflows at once into one statement. Items that
 * arrive in the same event-loop turn share a round trip and a commit; each caller still resumes
 * only once that commit is done, so nothing is visible before it is durable. A lone item (the
 * sequential case) costs exactly what its own statement would.
 *
 * If a batch of several fails for a reason other than its connection (a server error about the
 * statement), each item is retried on its own, so one bad value cannot fail the writes that happened to share its batch.
 */
import { isConnectionFailure } from '../database/infrastructure-failure.js';

interface Pending<T, R> {
  readonly item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/** `R`: what each item's caller gets back (the statement's answer for that item), if anything. */
export class StatementBatcher<T, R = void> {
  private queue: Pending<T, R>[] = [];
  private scheduled = false;

  constructor(
    /** Runs the statement for all `items`; returns one result per item, in order, where there are results. */
    private readonly write: (items: readonly T[]) => Promise<readonly R[] | void>,
    private readonly maxBatch = 200,
  ) {}

  add(item: T): Promise<R> {
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

  private async run(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve((results ? results[i] : undefined) as R));
    } catch (error) {
      if (batch.length === 1 || isConnectionFailure(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      await Promise.all(batch.map((p) => this.run([p])));
    }
  }
}
