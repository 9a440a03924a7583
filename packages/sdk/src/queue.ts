/**
 * Queues with flow control. A `WorkflowQueue` names a queue and its limits; workflows are put on
 * it with `ctx.invoke(Cls, { queue })` (from handlers) or `ctx.startChildWorkflow(Cls, { queue })`
 * (from workflows), wait as ENQUEUED, and are started by whichever executor has room. Every
 * queue made in a process is known to the runtime of that process, which takes work from all of
 * them. Making the same name twice is allowed only with the same options.
 */
import { OperonQueueOptionsError } from './errors.js';

export interface QueueRateLimit {
  /** At most this many of the queue's workflows start in any window of `periodSec` seconds. */
  readonly limitPerPeriod: number;
  readonly periodSec: number;
}

export interface WorkflowQueueOptions {
  /** At most this many of the queue's workflows run at once, over all executors. */
  readonly concurrency?: number;
  /** At most this many run at once in any one executor. */
  readonly workerConcurrency?: number;
  readonly rateLimit?: QueueRateLimit;
  /** At most this many run at once per partition key; every enqueue then names a `partitionKey`. */
  readonly partitionConcurrency?: number;
}

/** How one workflow is put on a queue. */
export interface EnqueueOptions {
  readonly queue: WorkflowQueue;
  /** Lower starts first; equal priorities start in enqueue order. @default 0 */
  readonly priority?: number;
  /** Refused while another ENQUEUED or PENDING workflow of the queue holds the same id. */
  readonly deduplicationID?: string;
  /** Required on a queue with `partitionConcurrency`, refused on any other. */
  readonly partitionKey?: string;
  /** Held back this long before it may start. @default 0 */
  readonly delaySeconds?: number;
}

const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const OPTION_KEYS = new Set(['concurrency', 'workerConcurrency', 'rateLimit', 'partitionConcurrency']);

/** Every queue made in this process, shared by every copy of the sdk it loaded. */
const QUEUES_KEY = Symbol.for('operon.queues');
type QueueMap = Map<string, WorkflowQueue>;
const queues: QueueMap = ((globalThis as Record<symbol, unknown>)[QUEUES_KEY] as QueueMap | undefined) ?? new Map();
(globalThis as Record<symbol, unknown>)[QUEUES_KEY] = queues;

/** The database holds each count as an INTEGER: a larger one would fail every dequeue of the process. */
const MAX_COUNT = 2 ** 31 - 1;
/** A rate window is held in milliseconds: from 1 ms to 100 years. */
const MIN_PERIOD_SEC = 0.001;
const MAX_PERIOD_SEC = 100 * 365 * 24 * 3600;

function positiveInteger(queue: string, what: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
    throw new OperonQueueOptionsError(`queue ${queue}: ${what} must be a whole number from 1 to ${MAX_COUNT}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function checkOptions(name: string, options: WorkflowQueueOptions): WorkflowQueueOptions {
  if (typeof options !== 'object' || options === null) throw new OperonQueueOptionsError(`queue ${name}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new OperonQueueOptionsError(`queue ${name}: unknown option ${key} (known: ${[...OPTION_KEYS].join(', ')})`);
  }
  const concurrency = positiveInteger(name, 'concurrency', options.concurrency);
  const workerConcurrency = positiveInteger(name, 'workerConcurrency', options.workerConcurrency);
  const partitionConcurrency = positiveInteger(name, 'partitionConcurrency', options.partitionConcurrency);
  if (concurrency !== undefined && workerConcurrency !== undefined && workerConcurrency > concurrency) {
    throw new OperonQueueOptionsError(`queue ${name}: workerConcurrency (${workerConcurrency}) may not exceed concurrency (${concurrency})`);
  }
  let rateLimit: QueueRateLimit | undefined;
  if (options.rateLimit !== undefined) {
    const given = options.rateLimit as unknown as Record<string, unknown>;
    if (typeof given !== 'object' || given === null) throw new OperonQueueOptionsError(`queue ${name}: rateLimit must be { limitPerPeriod, periodSec }`);
    const limitPerPeriod = positiveInteger(name, 'rateLimit.limitPerPeriod', given.limitPerPeriod);
    const periodSec = given.periodSec;
    if (limitPerPeriod === undefined) throw new OperonQueueOptionsError(`queue ${name}: rateLimit.limitPerPeriod is required`);
    if (typeof periodSec !== 'number' || !Number.isFinite(periodSec) || periodSec < MIN_PERIOD_SEC || periodSec > MAX_PERIOD_SEC) {
      throw new OperonQueueOptionsError(`queue ${name}: rateLimit.periodSec must be a number of seconds from ${MIN_PERIOD_SEC} to ${MAX_PERIOD_SEC} (100 years), not ${JSON.stringify(periodSec)}`);
    }
    rateLimit = Object.freeze({ limitPerPeriod, periodSec });
  }
  return Object.freeze({ concurrency, workerConcurrency, rateLimit, partitionConcurrency });
}

function sameOptions(a: WorkflowQueueOptions, b: WorkflowQueueOptions): boolean {
  return (
    a.concurrency === b.concurrency &&
    a.workerConcurrency === b.workerConcurrency &&
    a.partitionConcurrency === b.partitionConcurrency &&
    a.rateLimit?.limitPerPeriod === b.rateLimit?.limitPerPeriod &&
    a.rateLimit?.periodSec === b.rateLimit?.periodSec
  );
}

export class WorkflowQueue {
  readonly options: WorkflowQueueOptions;

  constructor(
    readonly name: string,
    options: WorkflowQueueOptions = {},
  ) {
    if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
      throw new OperonQueueOptionsError(`queue name ${JSON.stringify(name)} must be 1 to 100 letters, digits or _ . : -`);
    }
    this.options = checkOptions(name, options);
    const existing = queues.get(name);
    if (existing && !sameOptions(existing.options, this.options)) {
      throw new OperonQueueOptionsError(
        `queue ${name} is already registered with other options (${JSON.stringify(existing.options)}); one name, one set of limits`,
      );
    }
    if (!existing) queues.set(name, this);
  }
}

/** Every queue made in this process, by name. */
export function registeredQueues(): readonly WorkflowQueue[] {
  return [...queues.values()];
}

/** The queue of this name made in this process, if any. */
export function queueNamed(name: string): WorkflowQueue | undefined {
  return queues.get(name);
}
