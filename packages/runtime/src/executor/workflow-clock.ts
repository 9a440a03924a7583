/**
 * The one clock of workflow time. Every deadline a workflow records or waits for (a sleep's
 * wake-up time, a recv's or getEvent's timeout) is read from `now()` and waited for through
 * `at()`, never from `Date.now()`, a bare `setTimeout` or SQL `now()`. A runtime's clock is the
 * database's (database-clock.ts); the testing runtime may put a virtual one in its place
 * (virtual-clock.ts), whose time moves only when a test advances it.
 *
 * How a feature uses it (queue delays and rate-limit windows, schedule ticks, anything that
 * compares workflow time): take the executor's `deps.clock` (inside a step:
 * `execution.services.clock`); read "now" with `clock.now()`; when SQL must compare with now,
 * pass `clock.now()` as a parameter (epoch ms) rather than calling `now()` in SQL; to wait for a
 * deadline, `await untilDeadline(clock, deadlineMs)` or `clock.at(deadlineMs, fire)` (keep the
 * returned cancel function, and call it when the wait ends some other way). Heartbeats and leases
 * are not workflow time: they stay on the database's own `now()`.
 */

/** Cancels a timer set with `at()`; calling it after the timer fired does nothing. */
export type CancelTimer = () => void;

export interface WorkflowClock {
  /** Workflow time, epoch milliseconds. */
  now(): number;
  /**
   * Calls `fire` once, as soon as `now()` has reached `deadlineMs` (at once, on a later turn, if
   * it already has). Never before: a caller may rely on `now() >= deadlineMs` when it fires.
   */
  at(deadlineMs: number, fire: () => void): CancelTimer;
}

/**
 * Resolves once `clock` reaches `deadlineMs`; rejects with the signal's reason if it is aborted
 * first (the timer is then cancelled).
 */
export function untilDeadline(clock: WorkflowClock, deadlineMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.at(deadlineMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** setTimeout fires at once for delays beyond 2^31-1 ms (about 24.8 days): longer waits go in chunks. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `at()` for a clock that moves by itself (the local clock plus an offset): a timer re-armed
 * until `now()` reaches the deadline, since the offset may change and long waits go in chunks.
 */
export function realTimer(now: () => number, deadlineMs: number, fire: () => void): CancelTimer {
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const arm = () => {
    const remaining = deadlineMs - now();
    if (remaining <= 0) {
      // At once, but never synchronously: the caller has not yet kept the cancel function.
      timer = setTimeout(() => {
        done = true;
        fire();
      }, 0);
      return;
    }
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
  };
  arm();
  return () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
  };
}
