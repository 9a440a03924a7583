/**
 * The queue options of one enqueue (`ctx.invoke(Cls, { queue, ... })`, `startChildWorkflow(Cls,
 * { queue, ... })`), checked before anything is stored: each bad value gets an error naming it.
 */
import { OperonQueueOptionsError, queueNamed, type EnqueueOptions, type WorkflowQueue } from '@operon/sdk';
import { checkIdentifier } from '../client/identifiers.js';
import type { QueueLimits, QueuePlacement } from '../system-db/system-database.js';

const ENQUEUE_KEYS = new Set(['queue', 'priority', 'deduplicationID', 'partitionKey', 'delaySeconds', 'workflowUUID']);
const INT32_MAX = 2 ** 31 - 1;
/** The start time must be a BIGINT of milliseconds: a delay past it would fail the INSERT, taken for the database's failure. */
const MAX_DELAY_SECONDS = 100 * 365 * 24 * 3600;

/** The registered queue a caller passed (also a WorkflowQueue of another copy of the sdk). */
function registered(queue: unknown): WorkflowQueue {
  const name = (queue as { name?: unknown } | null)?.name;
  const found = typeof name === 'string' ? queueNamed(name) : undefined;
  if (!found) throw new OperonQueueOptionsError(`queue must be a WorkflowQueue made with new WorkflowQueue(name, options), got ${typeof queue === 'object' ? JSON.stringify(queue) : String(queue)}`);
  return found;
}

/** Where and when a workflow waits, from the caller's options; `now` is the runtime's clock. */
export function placementOf(options: EnqueueOptions, now: number): QueuePlacement {
  for (const key of Object.keys(options)) {
    if (!ENQUEUE_KEYS.has(key)) throw new OperonQueueOptionsError(`unknown enqueue option ${key} (known: ${[...ENQUEUE_KEYS].join(', ')})`);
  }
  const queue = registered(options.queue);
  const { priority = 0, delaySeconds = 0 } = options;
  if (!Number.isInteger(priority) || Math.abs(priority) > INT32_MAX) {
    throw new OperonQueueOptionsError(`queue ${queue.name}: priority must be an integer (lower starts first), not ${JSON.stringify(priority)}`);
  }
  if (typeof delaySeconds !== 'number' || !Number.isFinite(delaySeconds) || delaySeconds < 0 || delaySeconds > MAX_DELAY_SECONDS) {
    throw new OperonQueueOptionsError(`queue ${queue.name}: delaySeconds must be a number of seconds from 0 to ${MAX_DELAY_SECONDS} (100 years), not ${JSON.stringify(delaySeconds)}`);
  }
  const partitioned = queue.options.partitionConcurrency !== undefined;
  if (partitioned && options.partitionKey === undefined) {
    throw new OperonQueueOptionsError(`queue ${queue.name} has partitionConcurrency: every enqueue names a partitionKey`);
  }
  if (!partitioned && options.partitionKey !== undefined) {
    throw new OperonQueueOptionsError(`queue ${queue.name} has no partitionConcurrency: a partitionKey means nothing on it`);
  }
  return {
    queueName: queue.name,
    priority,
    deduplicationID: options.deduplicationID === undefined ? null : checkIdentifier('deduplicationID', options.deduplicationID),
    partitionKey: options.partitionKey === undefined ? null : checkIdentifier('partitionKey', options.partitionKey),
    notBefore: now + Math.round(delaySeconds * 1000),
  };
}

/** A queue's limits as the dequeue takes them. */
export function limitsOf(queue: WorkflowQueue): QueueLimits {
  return { name: queue.name, ...queue.options };
}
