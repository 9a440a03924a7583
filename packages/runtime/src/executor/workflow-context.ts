/**
 * The context a workflow runs with: a thin adapter over its execution. Every call is one durable
 * step of the execution (workflow-execution.ts), which owns the operation ids and the records.
 */
import type {
  ChildInvokerOf,
  ChildStarterOf,
  EnqueueOptions,
  OperationsOf,
  OperonLogger,
  OperonSpan,
  RecordedHttpRequest,
  WorkflowContext,
  WorkflowHandle,
} from '@operon/sdk';
import { methodProxy } from './method-proxy.js';
import { readConfigPath } from './operation-context.js';
import { startChildStep, workflowHandle } from './steps/child-workflow-step.js';
import { getEventStep, recvStep, sendStep, setEventStep, sleepStep } from './steps/messaging-steps.js';
import { operationStep } from './steps/operation-step.js';
import { runAsWorkflow } from './running-workflow.js';
import type { WorkflowExecution } from './workflow-execution.js';
import { tickArguments } from '../schedules/tick-inputs.js';

export class WorkflowContextImpl implements WorkflowContext {
  constructor(private readonly execution: WorkflowExecution) {}

  get workflowUUID(): string {
    return this.execution.workflowUUID;
  }
  get span(): OperonSpan {
    return this.execution.span;
  }
  get authenticatedUser(): string {
    return this.execution.identity.authenticatedUser;
  }
  get authenticatedRoles(): readonly string[] {
    return this.execution.identity.authenticatedRoles;
  }
  get assumedRole(): string {
    return this.execution.identity.assumedRole;
  }
  get request(): RecordedHttpRequest | null {
    return this.execution.request;
  }
  get logger(): OperonLogger {
    return this.execution.logger;
  }

  getConfig<T>(key: string, defaultValue?: T): T | undefined {
    return readConfigPath(this.execution.services.application, key, defaultValue);
  }

  invoke<T extends object>(cls: T): OperationsOf<T> {
    return methodProxy(cls, this.execution.services.registry, ['transaction', 'communicator'], (fn, args) =>
      operationStep(this.execution, fn, args),
    ) as OperationsOf<T>;
  }

  startChildWorkflow<T extends object>(cls: T, options?: EnqueueOptions): ChildStarterOf<T> {
    return methodProxy(cls, this.execution.services.registry, ['workflow'], (fn, args) =>
      startChildStep(this.execution, fn, args, false, options),
    ) as ChildStarterOf<T>;
  }

  invokeChildWorkflow<T extends object>(cls: T): ChildInvokerOf<T> {
    return methodProxy(cls, this.execution.services.registry, ['workflow'], async (fn, args) =>
      (await startChildStep(this.execution, fn, args, true)).getResult(),
    ) as ChildInvokerOf<T>;
  }

  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R> {
    return workflowHandle<R>(this.execution, workflowUUID);
  }

  send<M>(destinationUUID: string, message: M, topic?: string): Promise<void> {
    return sendStep(this.execution, destinationUUID, message, topic);
  }

  recv<M = unknown>(topic?: string, timeoutSeconds = 60): Promise<M | null> {
    return recvStep<M>(this.execution, topic, timeoutSeconds);
  }

  setEvent<V>(key: string, value: V): Promise<void> {
    return setEventStep(this.execution, key, value);
  }

  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds = 60): Promise<V | null> {
    return getEventStep<V>(this.execution, workflowUUID, key, timeoutSeconds);
  }

  sleep(seconds: number): Promise<void> {
    return sleepStep(this.execution, seconds);
  }
}

/** How a workflow's code is run: a @Workflow method with this context, or one invoked operation as operation 0. */
export function workflowBody(execution: WorkflowExecution, args: unknown[]): Promise<unknown> {
  const fn = execution.run.fn;
  const workflow = { workflowUUID: execution.workflowUUID, functionName: fn.name, systemDb: execution.services.systemDb };
  return runAsWorkflow(workflow, () => {
    if (execution.run.kind === 'operation') return operationStep(execution, fn, args);
    // A scheduled workflow gets Dates, however its inputs were read back.
    const given = fn.method.schedule ? tickArguments(args) : args;
    return fn.method.fn.call(fn.cls, new WorkflowContextImpl(execution), ...given);
  });
}
