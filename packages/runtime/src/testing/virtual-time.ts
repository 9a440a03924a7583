/**
 * Moves a testing runtime's virtual clock: `advance` and `runUntilIdle` fire the clock's timers in
 * deadline order and, after each, let the workflows it woke run until the runtime is quiet, so
 * that a deadline they set within the span fires in its turn too. Quiet means no statement in
 * flight or waiting for a connection on the runtime's pools, no communicator calling out, and
 * nothing started, ended or set to wait, over a few consecutive looks a few ms apart. A crash
 * (crashAfter) stops them at once, with the clock where the crash found it: nothing runs on a dead
 * runtime, and a recovered workflow's deadlines come in their turn from there.
 */
import type { OperonRuntime } from '../runtime.js';
import type { VirtualClock } from '../executor/virtual-clock.js';
import { formatDuration } from './durations.js';
import { OperonTestingCrashedError, OperonTestingUsageError } from './testing-errors.js';

const QUIET_LOOKS = 3;
const LOOK_INTERVAL_MS = 2;
/** Past this much real time without a quiet moment, a helper fails rather than hang the test. */
const SETTLE_LIMIT_MS = 30_000;
/**
 * runUntilIdle's budget, whichever runs out first: a workflow that waits in a loop never runs out
 * of deadlines, and each firing costs real time (its workflow runs and records), so the helper
 * fails with a word on what to do well before a test's own timeout (vitest's default is 5 s).
 */
export const RUN_UNTIL_IDLE_BUDGET = { deadlines: 1_000, realTimeMs: 4_000 } as const;

export interface RunUntilIdleOptions {
  /** Fire at most this many deadlines. @default 1000 */
  readonly maxDeadlines?: number;
  /** Spend at most this much real time, in ms. @default 4000 */
  readonly timeoutMs?: number;
}
/** A move of the clock under way: which helper, and what it says if the runtime crashes meanwhile. */
interface Move {
  readonly helper: string;
  crashed(operationName: string, atMs: number): OperonTestingCrashedError;
}

/** The last instant a Date can hold: past it, workflow time would be no time (Infinity, an invalid date). */
const LAST_DATE_MS = 8.64e15;

export class VirtualTime {
  constructor(
    readonly clock: VirtualClock,
    /** The runtime now serving (a recover() replaces it). */
    private readonly runtime: () => OperonRuntime,
    /** The operation a crash came after ('Class.method'), while the runtime is crashed. */
    private readonly crashedAfter: () => string | undefined,
  ) {}

  /** Moves the clock forward by `ms`, firing every deadline it passes, in order; `call` is how the test called it (`advance('3h')`). */
  async advance(ms: number, call: string): Promise<void> {
    const from = this.clock.now();
    const target = from + ms;
    if (!(target <= LAST_DATE_MS)) {
      throw new OperonTestingUsageError('advance', `${call} would take the clock past the last date (${new Date(LAST_DATE_MS).toISOString()})`);
    }
    const move: Move = {
      helper: 'advance',
      crashed: (operation, at) => {
        const left = target - at;
        const rest = left > 0 ? `, ${formatDuration(left)} short of the ${formatDuration(ms)} asked for: call recover(), then advance('${formatDuration(left)}') for the rest` : ': call recover()';
        return new OperonTestingCrashedError(call, `the runtime crashed after ${operation} at +${formatDuration(at - from)} (${new Date(at).toISOString()})${rest}`, operation);
      },
    };
    await this.settle(move);
    while (this.clock.fireNext(target)) await this.settle(move);
    this.clock.moveTo(target);
    await this.settle(move);
  }

  /**
   * Fires deadlines, in order, until no timer is left and the runtime is quiet. A deadline past
   * the last date (a sleep of 1e300 s) never comes: its timer stays pending. `options` were
   * checked (runUntilIdleBudget).
   */
  async runUntilIdle(options: Required<RunUntilIdleOptions>): Promise<void> {
    const { maxDeadlines, timeoutMs } = options;
    const began = Date.now();
    const from = this.clock.now();
    const move: Move = {
      helper: 'runUntilIdle',
      crashed: (operation, at) =>
        new OperonTestingCrashedError(
          'runUntilIdle()',
          `the runtime crashed after ${operation} at +${formatDuration(at - from)} (${new Date(at).toISOString()}): call recover(), then runUntilIdle() for the rest`,
          operation,
        ),
    };
    await this.settle(move);
    for (let fired = 0; ; fired++) {
      const next = this.clock.nextDeadline();
      if (next === undefined || next > LAST_DATE_MS) return;
      const spent = Date.now() - began;
      if (fired >= maxDeadlines || spent > timeoutMs) {
        throw new OperonTestingUsageError(
          'runUntilIdle',
          `fired ${fired} deadlines in ${spent} ms of real time and more keep coming (the next at ${new Date(next).toISOString()}): ` +
            `a workflow that waits in a loop never runs out of them. Move the clock by a duration instead (advance('1h')), ` +
            `or give runUntilIdle a bigger budget ({ maxDeadlines, timeoutMs }; now ${maxDeadlines} deadlines, ${timeoutMs} ms)`,
        );
      }
      this.clock.fireNext(LAST_DATE_MS);
      await this.settle(move);
    }
  }

  /** Resolves once the runtime is quiet; fails at once if it crashed. */
  private async settle(move: Move): Promise<void> {
    const giveUpAt = Date.now() + SETTLE_LIMIT_MS;
    let quietLooks = 0;
    let last = '';
    while (quietLooks < QUIET_LOOKS) {
      await new Promise((resolve) => setTimeout(resolve, LOOK_INTERVAL_MS));
      await new Promise((resolve) => setImmediate(resolve));
      const crashedAfter = this.crashedAfter();
      if (crashedAfter !== undefined) throw move.crashed(crashedAfter, this.clock.now());
      const look = this.look();
      quietLooks = look !== undefined && look === last ? quietLooks + 1 : 0;
      last = look ?? '';
      if (Date.now() > giveUpAt) {
        throw new OperonTestingUsageError(move.helper, `the runtime kept working for ${SETTLE_LIMIT_MS / 1000} s of real time without a quiet moment`);
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

/** runUntilIdle's options with their defaults, each checked. */
export function runUntilIdleBudget(options: RunUntilIdleOptions = {}): Required<RunUntilIdleOptions> {
  if (typeof options !== 'object' || options === null) throw new OperonTestingUsageError('runUntilIdle', `options must be an object ({ maxDeadlines, timeoutMs }), got ${String(options)}`);
  const unknown = Object.keys(options).filter((key) => key !== 'maxDeadlines' && key !== 'timeoutMs');
  if (unknown.length > 0) throw new OperonTestingUsageError('runUntilIdle', `unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: the options are maxDeadlines and timeoutMs`);
  return {
    maxDeadlines: budget('maxDeadlines', options.maxDeadlines, RUN_UNTIL_IDLE_BUDGET.deadlines),
    timeoutMs: budget('timeoutMs', options.timeoutMs, RUN_UNTIL_IDLE_BUDGET.realTimeMs),
  };
}

/** A budget option: a positive whole number, or the default. */
function budget(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new OperonTestingUsageError('runUntilIdle', `options.${name} must be a positive whole number, got ${String(value)}`);
  }
  return value;
}
