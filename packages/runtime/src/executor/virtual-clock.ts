/**
 * A workflow clock whose time moves only when told to (the testing runtime's `clock: 'virtual'`).
 * It fakes no timer of the process: the pg driver, heartbeats and the safety-net poll keep real
 * time; only what waits through the workflow clock waits for this one. `advanceTo` moves time
 * forward one deadline at a time, in deadline order, firing each timer at its own instant.
 */
import { OperonTestingUsageError } from '../testing/testing-errors.js';
import type { CancelTimer, WorkflowClock } from './workflow-clock.js';

interface VirtualTimer {
  readonly deadlineMs: number;
  /** Breaks ties between equal deadlines: the one set first fires first. */
  readonly order: number;
  readonly fire: () => void;
}

export class VirtualClock implements WorkflowClock {
  private nowMs: number;
  private readonly timers = new Set<VirtualTimer>();
  private setCount = 0;
  /** Moves on at every reset: a due timer's firing, queued for a later turn, is dropped by a reset in between. */
  private resets = 0;

  /** Starts at `startMs` (by default the local clock's time now), and stays there until moved. */
  constructor(readonly startMs: number = Date.now()) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  at(deadlineMs: number, fire: () => void): CancelTimer {
    // NaN would win no comparison and lose none: it would stall the timers after it, or make now() NaN.
    if (typeof deadlineMs !== 'number' || Number.isNaN(deadlineMs)) {
      throw new OperonTestingUsageError('VirtualClock.at', `the deadline must be a time in epoch milliseconds, got ${String(deadlineMs)}`);
    }
    const timer: VirtualTimer = { deadlineMs, order: this.setCount++, fire };
    if (deadlineMs <= this.nowMs) {
      // Due already: fired on a later turn, as a real timer would be (the caller keeps the cancel first).
      let cancelled = false;
      const resets = this.resets;
      setImmediate(() => cancelled || resets !== this.resets || fire());
      return () => (cancelled = true);
    }
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }

  /** How many timers wait for a later time. */
  get pendingCount(): number {
    return this.timers.size;
  }

  /** The earliest deadline a timer waits for, or undefined when none does. */
  nextDeadline(): number | undefined {
    return this.earliest()?.deadlineMs;
  }

  /**
   * Moves the time to the next deadline, if it is no later than `limitMs`, and fires every timer
   * of that deadline; returns whether it did. Between two calls the caller lets what was woken
   * run, so a timer it sets within the limit fires in its turn.
   */
  fireNext(limitMs: number): boolean {
    const first = this.earliest();
    if (!first || first.deadlineMs > limitMs) return false;
    this.nowMs = Math.max(this.nowMs, first.deadlineMs);
    const due = [...this.timers].filter((t) => t.deadlineMs <= this.nowMs).sort((a, b) => a.deadlineMs - b.deadlineMs || a.order - b.order);
    for (const timer of due) {
      this.timers.delete(timer);
      timer.fire();
    }
    return true;
  }

  /** Sets the time to `ms` (never backwards) without firing anything: for after the last `fireNext`. */
  moveTo(ms: number): void {
    this.nowMs = Math.max(this.nowMs, ms);
  }

  /** Cancels every timer and sets the time to `ms`, backwards too (the testing runtime's reset: a new test starts at the same instant). */
  reset(ms: number): void {
    this.resets++;
    this.timers.clear();
    this.nowMs = ms;
  }

  private earliest(): VirtualTimer | undefined {
    let first: VirtualTimer | undefined;
    for (const timer of this.timers) {
      if (!first || timer.deadlineMs < first.deadlineMs || (timer.deadlineMs === first.deadlineMs && timer.order < first.order)) first = timer;
    }
    return first;
  }
}
