/**
 * Time by the database's clock. Deadlines (a sleep's wake-up time, a recv's or getEvent's
 * timeout) are recorded as epoch milliseconds and may be waited for by another executor than the
 * one that recorded them: all executors read them by the one clock they share, the database's,
 * so a host whose clock runs ahead or behind neither cuts a sleep short nor stretches it. The
 * offset is measured at every heartbeat (half the round trip is the error bound).
 */
export class DatabaseClock {
  private offsetMs = 0;

  /** Epoch milliseconds by the database's clock, as last measured. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** A reading of the database's clock, taken by a query sent at `sentAt` and answered at `answeredAt` (local epoch ms). */
  observe(databaseNowMs: number, sentAt: number, answeredAt: number): void {
    this.offsetMs = Math.round(databaseNowMs - (sentAt + answeredAt) / 2);
  }
}
