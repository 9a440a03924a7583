/**
 * Moves a testing runtime's virtual clock: `advance` and `runUntilIdle` fire the clock's timers in
 * deadline order and, after each, let the workflows it woke run until the runtime is quiet, so
 * that a deadline they set within the span fires in its turn too. Quiet means no statement in
 * flight or waiting for a connection on the runtime's pools, no communicator calling out, and
 * nothing started, ended or set to wait, over a few consecutive looks a few ms apart.
 */
import type { OperonRuntime } from '../runtime.js';
import type { VirtualClock } from '../executor/virtual-clock.js';
import { durationMs, type Duration } from './durations.js';
import { OperonTestingUsageError } from './testing-errors.js';

const QUIET_LOOKS = 3;
const LOOK_INTERVAL_MS = 2;
/** Past this much real time without a quiet moment, a helper fails rather than hang the test. */
const SETTLE_LIMIT_MS = 30_000;
/** runUntilIdle's bound on deadlines fired: a workflow that sleeps in a loop never runs out of them. */
const MAX_FIRINGS = 10_000;
/** The last instant a Date can hold: past it, workflow time would be no time (Infinity, an invalid date). */
const LAST_DATE_MS = 8.64e15;

export class VirtualTime {
  constructor(
    readonly clock: VirtualClock,
    /** The runtime now serving (a recover() replaces it). */
    private readonly runtime: () => OperonRuntime,
  ) {}

  /** Moves the clock forward by `duration`, firing every deadline it passes, in order. */
  async advance(duration: Duration): Promise<void> {
    const target = this.clock.now() + durationMs('advance', duration);
    if (!(target <= LAST_DATE_MS)) {
      throw new OperonTestingUsageError('advance', `the duration ${typeof duration === 'string' ? `'${duration.slice(0, 40)}'` : String(duration)} would take the clock past the last date (${new Date(LAST_DATE_MS).toISOString()})`);
    }
    await this.settle('advance');
    while (this.clock.fireNext(target)) await this.settle('advance');
    this.clock.moveTo(target);
    await this.settle('advance');
  }

  /**
   * Fires deadlines, in order, until no timer is left and the runtime is quiet. A deadline past
   * the last date (a sleep of 1e300 s) never comes: its timer stays pending.
   */
  async runUntilIdle(): Promise<void> {
    await this.settle('runUntilIdle');
    for (let fired = 0; this.clock.fireNext(LAST_DATE_MS); fired++) {
      if (fired >= MAX_FIRINGS) {
        throw new OperonTestingUsageError(
          'runUntilIdle',
          `fired ${MAX_FIRINGS} deadlines and more keep coming (a workflow that waits in a loop?); advance the clock by a duration instead`,
        );
      }
      await this.settle('runUntilIdle');
    }
  }

  /** Resolves once the runtime is quiet. */
  private async settle(helper: string): Promise<void> {
    const giveUpAt = Date.now() + SETTLE_LIMIT_MS;
    let quietLooks = 0;
    let last = '';
    while (quietLooks < QUIET_LOOKS) {
      await new Promise((resolve) => setTimeout(resolve, LOOK_INTERVAL_MS));
      await new Promise((resolve) => setImmediate(resolve));
      const look = this.look();
      quietLooks = look !== undefined && look === last ? quietLooks + 1 : 0;
      last = look ?? '';
      if (Date.now() > giveUpAt) {
        throw new OperonTestingUsageError(helper, `the runtime kept working for ${SETTLE_LIMIT_MS / 1000} s of real time without a quiet moment`);
      }
    }
  }

  /** What the runtime is doing, as a string to compare between looks; undefined while it is busy. */
  private look(): string | undefined {
    const runtime = this.runtime();
    const { systemPool, appPool } = runtime.systemDb;
    for (const pool of [systemPool, appPool]) {
      if (pool.waitingCount > 0 || pool.totalCount > pool.idleCount) return undefined;
    }
    if (runtime.executor.callingOut > 0) return undefined;
    return `${runtime.executor.activeCount}/${runtime.messaging.waitingCount}/${this.clock.pendingCount}`;
  }
}
