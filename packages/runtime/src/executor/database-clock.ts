/**
 * Time by the database's clock. Deadlines (a sleep's wake-up time, a recv's or getEvent's
 * timeout) are recorded as epoch milliseconds and may be waited for by another executor than the
 * one that recorded them: all executors read them by the one clock they share, the database's,
 * so a host whose clock runs ahead or behind neither cuts a sleep short nor stretches it. The
 * offset is measured at every heartbeat whose round trip is short (half of it is the error bound).
 * It is the runtime's workflow clock (workflow-clock.ts) unless a test puts a virtual one in its place.
 */
import { realTimer, type CancelTimer, type WorkflowClock } from './workflow-clock.js';

/** A reading whose round trip took longer says little about when the database read its clock. */
const MAX_ROUND_TRIP_MS = 250;
/** Between two readings taken to get a trustworthy one. */
const RETRY_READING_MS = 200;

export class DatabaseClock implements WorkflowClock {
  /** Until a trustworthy reading comes, the local clock. */
  private offsetMs = 0;
  private measured = false;

  /** `local` is the host's clock; a test may give a skewed one. */
  constructor(private readonly local: () => number = Date.now) {}

  /** Epoch milliseconds by the database's clock, as last measured. */
  now(): number {
    return this.local() + this.offsetMs;
  }

  /** Whether a trustworthy reading came: before it, `now()` is the host's clock, however far off. */
  get trusted(): boolean {
    return this.measured;
  }

  at(deadlineMs: number, fire: () => void): CancelTimer {
    return realTimer(() => this.now(), deadlineMs, fire);
  }

  /** Runs `query`, whose answer carries the database's clock, and takes it as a reading. */
  async read<T extends { readonly databaseNowMs: number }>(query: () => Promise<T>): Promise<T> {
    const sentAt = this.local();
    const result = await query();
    this.observe(result.databaseNowMs, sentAt, this.local());
    return result;
  }

  /**
   * Takes readings with `query` until one is trustworthy (at once if one came already). Throws
   * what `query` throws; `stopped` ends the attempts early (the clock is then still untrusted).
   */
  async untilTrusted(query: () => Promise<{ readonly databaseNowMs: number }>, stopped: () => boolean = () => false): Promise<void> {
    while (!this.measured && !stopped()) {
      await this.read(query);
      if (!this.measured) await new Promise((resolve) => setTimeout(resolve, RETRY_READING_MS));
    }
  }

  /**
   * A reading of the database's clock, taken by a query sent at `sentAt` and answered at
   * `answeredAt` (local epoch ms). One that waited (for a pool connection, a lock, a slow server)
   * is ignored: its midpoint could be seconds from the moment the clock was read, and a clock set
   * ahead would end sleeps early.
   */
  observe(databaseNowMs: number, sentAt: number, answeredAt: number): void {
    if (answeredAt - sentAt > MAX_ROUND_TRIP_MS) return;
    this.offsetMs = Math.round(databaseNowMs - (sentAt + answeredAt) / 2);
    this.measured = true;
  }
}
