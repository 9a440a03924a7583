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

export class DatabaseClock implements WorkflowClock {
  /** Until a trustworthy reading comes, the local clock. */
  private offsetMs = 0;

  /** Epoch milliseconds by the database's clock, as last measured. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  at(deadlineMs: number, fire: () => void): CancelTimer {
    return realTimer(() => this.now(), deadlineMs, fire);
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
  }
}
