/**
 * The waits of one process, kept in memory by what they wait for: a wait key from
 * system-db/notification-channel.ts, or none for a plain sleep. A waiting workflow holds a timer
 * and an entry here, never a database connection. Shutdown rejects every wait, present and future.
 * Deadlines are kept by the workflow clock (workflow-clock.ts), so a virtual clock can end them.
 */
import type { CancelTimer, WorkflowClock } from './workflow-clock.js';

interface Pending {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly cancelTimer: CancelTimer;
}

export class Waiter {
  private signalled = false;
  private pending: Pending | undefined;

  constructor(
    readonly key: string | undefined,
    private readonly registry: WaitRegistry,
  ) {}

  /**
   * Resolves when signalled, or once the clock reaches `deadlineMs` (the caller then looks again).
   * A signal that came while the caller was looking is not lost: the next wait returns at once.
   * Rejects once the registry closed.
   */
  wait(deadlineMs: number): Promise<void> {
    const shutdown = this.registry.shutdownError();
    if (shutdown) return Promise.reject(shutdown);
    if (this.signalled) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject, cancelTimer: this.registry.clock.at(deadlineMs, () => this.settle()) };
    });
  }

  signal(): void {
    if (this.pending) this.settle();
    else this.signalled = true;
  }

  fail(error: unknown): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    pending.cancelTimer();
    pending.reject(error);
  }

  /** Leaves the registry; every wait ends with this, however it ended. */
  dispose(): void {
    this.pending?.cancelTimer();
    this.pending = undefined;
    this.registry.remove(this);
  }

  private settle(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    pending.cancelTimer();
    pending.resolve();
  }
}

export class WaitRegistry {
  private readonly byKey = new Map<string, Set<Waiter>>();
  private readonly unkeyed = new Set<Waiter>();
  private makeShutdownError: (() => Error) | undefined;

  constructor(readonly clock: WorkflowClock) {}

  /** Registers a wait before its first look, so a notification between look and wait is kept. */
  watch(key: string | undefined): Waiter {
    const shutdown = this.shutdownError();
    if (shutdown) throw shutdown;
    const waiter = new Waiter(key, this);
    if (key === undefined) {
      this.unkeyed.add(waiter);
      return waiter;
    }
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(waiter);
    return waiter;
  }

  signal(key: string): void {
    const set = this.byKey.get(key);
    if (set) for (const waiter of set) waiter.signal();
  }

  /** Every key somebody waits for. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  get size(): number {
    let n = this.unkeyed.size;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  remove(waiter: Waiter): void {
    if (waiter.key === undefined) {
      this.unkeyed.delete(waiter);
      return;
    }
    const set = this.byKey.get(waiter.key);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.byKey.delete(waiter.key);
  }

  /** Rejects every current wait with a fresh error from `makeError`, and every later one too. */
  close(makeError: () => Error): void {
    this.makeShutdownError ??= makeError;
    for (const waiter of this.unkeyed) waiter.fail(makeError());
    for (const set of this.byKey.values()) for (const waiter of set) waiter.fail(makeError());
  }

  /**
   * Rejects every current wait with a fresh error from `makeError`; later waits go on as usual (the
   * testing runtime's reset: the waits of the previous test's workflows end, the registry serves on).
   */
  interruptAll(makeError: () => Error): void {
    for (const waiter of [...this.unkeyed]) waiter.fail(makeError());
    for (const set of [...this.byKey.values()]) for (const waiter of [...set]) waiter.fail(makeError());
  }

  shutdownError(): Error | undefined {
    return this.makeShutdownError?.();
  }
}
