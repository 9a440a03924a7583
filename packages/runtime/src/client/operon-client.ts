/**
 * Calls into the app from outside any workflow: what a handler's `ctx.invoke(Cls)` and the testing
 * runtime's `invoke(Cls)` do. A workflow method starts the workflow and gives its handle; a
 * transaction or communicator runs as a one-operation workflow, so it too is idempotent under a
 * given UUID, and gives its result. A UUID the caller chooses is checked against the identifier
 * rule and may not enter the namespace of derived UUIDs.
 */
import type { Context } from '@opentelemetry/api';
import { OperonQueueOptionsError, type EnqueueOptions, type WorkflowQueue, type HandlerInvokerOf, type RecordedHttpRequest, type WorkflowHandle } from '@operon/sdk';
import type { FunctionRegistry } from '../executor/function-registry.js';
import { methodProxy } from '../executor/method-proxy.js';
import { ANONYMOUS, type WorkflowExecutor } from '../executor/workflow-executor.js';
import type { WorkflowMessaging } from '../executor/workflow-messaging.js';
import type { WorkflowIdentity } from '../system-db/system-database.js';
import type { RuntimeSpan } from '../telemetry/tracing.js';
import { checkClientUUID, checkIdentifier } from './identifiers.js';

/** Whose call it is, and where it came from. */
export interface InvokeOptions {
  /** Who calls: what an authenticator returned. @default an anonymous caller */
  readonly identity?: WorkflowIdentity;
  /** The UUID the caller chose for the (first) workflow started; checked as a client's UUID. */
  readonly workflowUUID?: string;
  /** The HTTP request to record with each workflow started (method, url, headers). */
  readonly request?: RecordedHttpRequest;
  /**
   * The UUID of the next workflow started through this invoker (undefined for a random one), and
   * whether the runtime derived it (a request's later workflows) rather than a client chose it.
   */
  readonly nextWorkflowUUID?: () => { readonly uuid: string; readonly derived: boolean } | undefined;
  /** Told the UUID of each workflow started, in order. */
  readonly onStart?: (workflowUUID: string) => void;
  /** The span (a handler's) or incoming trace context each workflow's span is a child of. */
  readonly parentSpan?: RuntimeSpan | Context;
  /**
   * Enqueue each workflow started on this queue instead of starting it at once: a WorkflowQueue
   * with the other queue options beside it (as a handler's `ctx.invoke` takes them), or the whole
   * `{ queue, priority, ... }`.
   */
  readonly queue?: WorkflowQueue | EnqueueOptions;
  readonly priority?: number;
  readonly deduplicationID?: string;
  readonly partitionKey?: string;
  readonly delaySeconds?: number;
}

const FLAT_QUEUE_KEYS = ['priority', 'deduplicationID', 'partitionKey', 'delaySeconds'] as const;

/** The enqueue options of a client's invoke, from either shape it takes; undefined for no queue. */
function enqueueOptionsOf(options: InvokeOptions): EnqueueOptions | undefined {
  const flat = FLAT_QUEUE_KEYS.filter((key) => options[key] !== undefined);
  if (options.queue === undefined) {
    if (flat.length > 0) throw new OperonQueueOptionsError(`${flat.join(', ')} only apply with a queue: pass { queue, ... }`);
    return undefined;
  }
  // An EnqueueOptions names its queue; a WorkflowQueue (of any copy of the sdk) does not.
  if (typeof options.queue === 'object' && options.queue !== null && 'queue' in options.queue) {
    if (flat.length > 0) throw new OperonQueueOptionsError(`${flat.join(', ')} given twice: beside { queue: { queue, ... } } and inside it`);
    return options.queue;
  }
  const enqueue: Record<string, unknown> = { queue: options.queue };
  for (const key of flat) enqueue[key] = options[key];
  return enqueue as unknown as EnqueueOptions;
}

/**
 * What a handler or the testing runtime passed as `invoke`'s second argument: a UUID, or options
 * ({ workflowUUID, queue, priority, ... }); the UUID, and the queue options if a queue is named.
 */
export function invokeArgument(argument: unknown): { workflowUUID?: string; queue?: EnqueueOptions } {
  if (argument === undefined || typeof argument === 'string') return { workflowUUID: argument };
  if (typeof argument !== 'object' || argument === null) {
    throw new OperonQueueOptionsError(`invoke takes a workflow UUID or an options object as its second argument, not ${JSON.stringify(argument)}`);
  }
  const { workflowUUID, ...rest } = argument as { workflowUUID?: string; queue?: unknown };
  if (rest.queue === undefined) {
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new OperonQueueOptionsError(`${extra.join(', ')} only apply with a queue: pass { queue, ... }`);
    return { workflowUUID };
  }
  return { workflowUUID, queue: rest as EnqueueOptions };
}

export class OperonClient {
  constructor(
    private readonly executor: WorkflowExecutor,
    private readonly messaging: WorkflowMessaging,
    private readonly registry: FunctionRegistry,
  ) {}

  invoke<T extends object>(cls: T, options: InvokeOptions = {}): HandlerInvokerOf<T> {
    return methodProxy(cls, this.registry, ['workflow', 'transaction', 'communicator'], async (fn, args) => {
      const given = options.workflowUUID;
      const next = given !== undefined ? { uuid: given, derived: false } : options.nextWorkflowUUID?.();
      const workflowUUID = next === undefined ? undefined : next.derived ? next.uuid : checkClientUUID(next.uuid);
      const start = { workflowUUID, identity: options.identity ?? ANONYMOUS, request: options.request, parentSpan: options.parentSpan };
      const queue = enqueueOptionsOf(options);
      if (queue) {
        const handle = await this.executor.enqueueWorkflow(fn, args, { ...start, queue });
        options.onStart?.(handle.getWorkflowUUID());
        return handle;
      }
      if (fn.method.kind === 'workflow') {
        const handle = await this.executor.startWorkflow(fn, args, start);
        options.onStart?.(handle.getWorkflowUUID());
        return handle;
      }
      const handle = await this.executor.startOperation(fn, args, start);
      options.onStart?.(handle.getWorkflowUUID());
      return handle.getResult();
    }) as HandlerInvokerOf<T>;
  }

  retrieveWorkflow<R>(workflowUUID: string): WorkflowHandle<R> {
    return this.executor.retrieveWorkflow<R>(checkIdentifier('workflow UUID', workflowUUID));
  }

  send(destinationUUID: string, message: unknown, topic?: string, idempotencyKey?: string): Promise<void> {
    return this.messaging.send(destinationUUID, message, topic, idempotencyKey);
  }

  getEvent<V>(workflowUUID: string, key: string, timeoutSeconds = 60): Promise<V | null> {
    return this.messaging.getEvent<V>(workflowUUID, key, timeoutSeconds);
  }
}
