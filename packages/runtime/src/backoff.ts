/**
 * Exponential backoff, the one shape of every wait-and-try-again loop in the runtime: transaction
 * retries after a serialization failure, communicator retries, the database probe after an outage,
 * polls for a workflow's result and the notification listener's reconnects.
 */
export interface BackoffOptions {
  /** The first wait. */
  readonly initialMs: number;
  /** No wait is longer than this. */
  readonly maxMs: number;
  /** Each wait is this many times the one before. @default 2 */
  readonly factor?: number;
  /**
   * Each wait is stretched by a random part of itself up to this fraction, so that many waiters
   * cut off together do not all come back at the same instant. @default 0
   */
  readonly jitter?: number;
}

export class Backoff {
  private nextMs: number;

  constructor(private readonly options: BackoffOptions) {
    this.nextMs = options.initialMs;
  }

  /** The next wait in milliseconds; the one after is longer (up to `maxMs`). */
  next(): number {
    const base = this.nextMs;
    this.nextMs = Math.min(base * (this.options.factor ?? 2), this.options.maxMs);
    return base * (1 + Math.random() * (this.options.jitter ?? 0));
  }

  /** Waits for the next interval. */
  wait(): Promise<void> {
    return delay(this.next());
  }

  /** Back to the first interval, after a success. */
  reset(): void {
    this.nextMs = this.options.initialMs;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
