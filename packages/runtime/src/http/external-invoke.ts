/**
 * Calls into the app from outside any workflow: what a handler's `ctx.invoke(Cls)` and the testing
 * runtime's `invoke(Cls)` do. A workflow method starts the workflow and gives its handle; a
 * transaction or communicator runs as a one-operation workflow, so it too is idempotent under a
 * given UUID, and gives its result.
 */
import type { HandlerInvokerOf, WorkflowHandle } from '@operon/sdk';
import type { WorkflowExecutor } from '../executor/workflow-executor.js';
import { methodProxy } from '../executor/workflow-context.js';
import type { WorkflowIdentity } from '../system-db/system-database.js';
import type { RuntimeSpan } from '../telemetry/tracing.js';

export interface ExternalInvokeOptions {
  readonly identity: WorkflowIdentity;
  /** The HTTP request to record with each workflow started (method, url, headers). */
  readonly request?: unknown;
  /** The UUID of the next workflow started through this invoker; undefined for a random one. */
  readonly nextWorkflowUUID: () => string | undefined;
  /** Told the UUID of each workflow started, in order. */
  readonly onStart?: (workflowUUID: string) => void;
  /** The span (a handler's) each workflow's span is a child of. */
  readonly parentSpan?: RuntimeSpan;
}

export function externalInvoke<T extends object>(
  executor: WorkflowExecutor,
  cls: T,
  options: ExternalInvokeOptions,
): HandlerInvokerOf<T> {
  return methodProxy(cls, executor, ['workflow', 'transaction', 'communicator'], async (fn, args) => {
    const start = { workflowUUID: options.nextWorkflowUUID(), identity: options.identity, request: options.request, parentSpan: options.parentSpan };
    if (fn.method.kind === 'workflow') {
      const handle = await executor.startWorkflow(fn, args, start);
      options.onStart?.(handle.getWorkflowUUID());
      return handle;
    }
    const handle = await executor.startTemporaryWorkflow(fn, args, start);
    options.onStart?.(handle.getWorkflowUUID());
    return handle.getResult();
  }) as HandlerInvokerOf<T>;
}

export function externalRetrieve<R>(executor: WorkflowExecutor, workflowUUID: string): WorkflowHandle<R> {
  return executor.retrieveWorkflow<R>(workflowUUID);
}

export function externalSend(
  executor: WorkflowExecutor,
  destinationUUID: string,
  message: unknown,
  topic?: string,
  idempotencyKey?: string,
): Promise<void> {
  return executor.messaging.send(destinationUUID, message, topic, idempotencyKey);
}

export function externalGetEvent<V>(executor: WorkflowExecutor, workflowUUID: string, key: string, timeoutSeconds = 60): Promise<V | null> {
  return executor.messaging.getEvent<V>(workflowUUID, key, timeoutSeconds);
}
