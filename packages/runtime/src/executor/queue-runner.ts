/**
 * Takes work from every queue of the process and starts it. One dequeue call covers every queue
 * with room here (one round trip, see system-db/queues.ts), so a big queue never starves small
 * ones and an idle process sends one query per poll whatever the number of queues. It runs:
 * at once when this process enqueues; when another process's enqueue is heard (NOTIFY); when a
 * queue workflow of this process ends; at a delayed workflow's start time if enqueued here; when
 * the rate window of a queue slides past starts this process made (a slot frees); and on a slow
 * poll, the safety net. At most one dequeue is in flight; wake-ups during it make one
 * more after it.
 */
import type { Logger } from 'pino';
import { registeredQueues } from '@operon/sdk';
import type { DequeuedRow, SystemDatabase } from '../system-db/system-database.js';
import { limitsOf } from './queue-placement.js';
import type { CancelTimer, WorkflowClock } from './workflow-clock.js';

export interface QueueRunnerDeps {
  readonly systemDb: SystemDatabase;
  readonly logger: Logger;
  /** The workflow clock: delays and rate windows are its time. */
  readonly clock: WorkflowClock;
  /** Who takes the work: the executor's current instance. */
  readonly claimer: () => { readonly owner: string; readonly executorId: string };
  /** The workflow names this executor registers: the only ones it takes. */
  readonly workflows: readonly string[];
  /** The versions this process failed to load: their workflows wait in their queues for executors that can. */
  readonly skipVersions: () => readonly string[];
  /** Starts a dequeued workflow here; the promise settles when it ends (or is given up) here. */
  readonly run: (row: DequeuedRow) => Promise<unknown>;
}

/** The safety-net poll: an idle process sends one dequeue per interval. */
export const QUEUE_POLL_MS = 1_000;
/** At most this many workflows of one queue per dequeue call. */
const BATCH = 100;
/** After a failed dequeue (the database away), the next try waits this long. */
const RETRY_MS = 1_000;

export class QueueRunner {
  /** Queue workflows running here, per queue. */
  private readonly local = new Map<string, number>();
  /** Their UUIDs: a look for what a lost dequeue took leaves these alone. */
  private readonly runningHere = new Set<string>();
  /**
   * Dequeues whose answer was lost (the connection dropped, or the fence after them failed): they
   * may have committed, and what they took is PENDING here and run nowhere until it is looked for.
   */
  private readonly unanswered: { readonly owner: string; readonly at: number; readonly queues: readonly string[] }[] = [];
  private inFlight: Promise<void> | undefined;
  private again = false;
  private running = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly delayTimers = new Set<CancelTimer>();
  /** Rate-limited queues with a wake-up set for when their window frees a slot: one each at a time. */
  private readonly rateWakes = new Set<string>();
  /** Per rate-limited queue, when (workflow clock) the dequeues here that started some of it ran, while still in its window. */
  private readonly rateStarts = new Map<string, number[]>();
  private dequeues = 0;
  /** Claims in progress (see exclusive): no dequeue is sent meanwhile. */
  private holds = 0;

  constructor(private readonly deps: QueueRunnerDeps) {}

  /** How many dequeue calls this process sent (for tests and benchmarks). */
  get dequeueCount(): number {
    return this.dequeues;
  }

  async start(): Promise<void> {
    this.running = true;
    const queues = registeredQueues().map(limitsOf);
    await this.deps.systemDb.registerQueues(queues, this.deps.clock.now()).catch((error: unknown) =>
      this.deps.logger.warn({ err: error }, 'could not record the queues this executor serves'),
    );
    this.wake();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.pollTimer);
    for (const cancel of this.delayTimers) cancel();
    this.delayTimers.clear();
    this.rateWakes.clear();
    this.rateStarts.clear();
  }

  /**
   * Forgets the wake-ups it set and the starts they are timed from (the testing runtime's reset
   * empties the queues and sets the clock back): a queue's rate wake-up left marked as set would
   * never be set again, and one timed from a start the reset removed would come too early.
   */
  forgetWakeUps(): void {
    for (const cancel of this.delayTimers) cancel();
    this.delayTimers.clear();
    this.rateWakes.clear();
    this.rateStarts.clear();
  }

  /** Takes work soon; coalesces with a dequeue in flight. */
  /** Whether this process's dequeues would take a workflow named `workflowName` from `queueName`. */
  takesFromQueue(queueName: string, workflowName: string): boolean {
    return this.deps.workflows.includes(workflowName) && registeredQueues().some((queue) => queue.name === queueName);
  }

  wake(): void {
    if (!this.running) return;
    if (this.inFlight || this.holds > 0) {
      this.again = true;
      return;
    }
    this.inFlight = this.drain().finally(() => {
      this.inFlight = undefined;
      this.schedulePoll();
    });
  }

  /**
   * Runs `claim` (an adoption's claim) with no dequeue of this process in flight: the claim counts
   * what this executor runs of each queue to hold its worker limit, and a dequeue committing at
   * the same moment would make that count stale. Dequeues wait meanwhile, then take work again.
   */
  async exclusive<T>(claim: () => Promise<T>): Promise<T> {
    this.holds++;
    try {
      await this.inFlight;
      return await claim();
    } finally {
      this.holds--;
      if (this.holds === 0 && this.again) {
        this.again = false;
        this.wake();
      }
    }
  }

  /** Counts a workflow of a queue that runs here without a dequeue (adopted) until `run` settles. */
  adopted(row: { readonly queueName: string; readonly workflowUUID: string }, run: Promise<unknown>): void {
    this.begin(row, () => run);
  }

  /** Wakes at `notBefore` (the runtime's clock): a delayed workflow enqueued here starts on time. */
  wakeAt(notBefore: number, fired?: () => void): void {
    if (notBefore <= this.deps.clock.now() || !this.running) {
      fired?.();
      return this.wake();
    }
    const cancel = this.deps.clock.at(notBefore, () => {
      this.delayTimers.delete(cancel);
      fired?.();
      this.wake();
    });
    this.delayTimers.add(cancel);
  }

  private schedulePoll(): void {
    clearTimeout(this.pollTimer);
    if (!this.running) return;
    this.pollTimer = setTimeout(() => this.wake(), QUEUE_POLL_MS * (0.9 + Math.random() * 0.2));
    this.pollTimer.unref();
  }

  private async drain(): Promise<void> {
    // Let wake-ups of this tick (many enqueues, many ends) join the first call.
    await new Promise((resolve) => setImmediate(resolve));
    do {
      this.again = false;
      // A queue whose worker limit is reached here is left out: the database would refuse anyway.
      const queues = registeredQueues()
        .map(limitsOf)
        .filter((q) => q.workerConcurrency === undefined || (this.local.get(q.name) ?? 0) < q.workerConcurrency);
      if (queues.length === 0 || this.deps.workflows.length === 0 || !this.running) return;
      // A claim is counting what runs here: the dequeue waits for it (it wakes us after).
      if (this.holds > 0) {
        this.again = true;
        return;
      }
      let rows: DequeuedRow[];
      const now = this.deps.clock.now();
      const claimer = this.deps.claimer();
      try {
        await this.takeUnanswered(claimer.owner);
        this.dequeues++;
        rows = await this.deps.systemDb.dequeue(claimer, queues, now, BATCH, this.deps.workflows, this.deps.skipVersions()).catch((error: unknown) => {
          this.unanswered.push({ owner: claimer.owner, at: now, queues: queues.map((q) => q.name) });
          throw error;
        });
      } catch (error) {
        this.deps.logger.warn({ err: error }, `could not take work from the queues; trying again in ${RETRY_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        this.again = true;
        continue;
      }
      for (const row of rows) this.begin(row, () => this.deps.run(row));
      const started = new Set(rows.map((row) => row.queueName));
      for (const q of queues) if (q.rateLimit) this.setRateWake(q.name, q.rateLimit.periodSec * 1000, now, started.has(q.name));
      // What was taken may not be all there is: look again until a call takes nothing.
      if (rows.length > 0) this.again = true;
    } while (this.again && this.running);
  }

  /**
   * A start leaves a rate window a period after it (its queue_started_at): the slot it took frees
   * then, and nothing else would wake the queue before the poll. One wake-up a queue at a time,
   * for the earliest start of this process still in the window: the dequeue it makes takes what is
   * free then and, if it starts more, sets the next, for the next earliest start (a burst of
   * dequeues sets one, not one each; a start made while one is set is not forgotten).
   */
  private setRateWake(queue: string, periodMs: number, now: number, startedNow: boolean): void {
    const starts = (this.rateStarts.get(queue) ?? []).filter((at) => at > now - periodMs);
    if (startedNow) starts.push(now);
    if (starts.length === 0) this.rateStarts.delete(queue);
    else this.rateStarts.set(queue, starts);
    if (!startedNow || this.rateWakes.has(queue)) return;
    this.rateWakes.add(queue);
    const earliest = starts.reduce((a, b) => Math.min(a, b));
    this.wakeAt(earliest + periodMs, () => this.rateWakes.delete(queue));
  }

  /**
   * Runs what the dequeues whose answer was lost took (their rows carry their time); throws, and
   * keeps those not yet looked at, while the database is away. Those of an instance this executor
   * no longer is are left alone: whoever adopts that instance's workflows takes them.
   */
  private async takeUnanswered(owner: string): Promise<void> {
    while (this.unanswered.length > 0) {
      const lost = this.unanswered[0]!;
      if (lost.owner === owner) {
        const rows = await this.deps.systemDb.takenBy(lost.owner, lost.at, lost.queues);
        for (const row of rows) if (!this.runningHere.has(row.workflowUUID)) this.begin(row, () => this.deps.run(row));
        if (rows.length > 0) this.deps.logger.info({ workflows: rows.length }, 'a dequeue whose answer was lost had taken workflows: they run here');
      }
      this.unanswered.shift();
    }
  }

  /** Counts a workflow of the queue as running here until it ends; its end frees a slot, so it wakes the runner. */
  private begin(row: { readonly queueName: string; readonly workflowUUID: string }, run: () => Promise<unknown>): void {
    this.local.set(row.queueName, (this.local.get(row.queueName) ?? 0) + 1);
    this.runningHere.add(row.workflowUUID);
    const ended = () => {
      this.local.set(row.queueName, (this.local.get(row.queueName) ?? 1) - 1);
      this.runningHere.delete(row.workflowUUID);
      this.wake();
    };
    run().then(ended, ended);
  }
}
