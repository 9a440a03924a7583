/**
 * The context a workflow runs with. Every call through it takes the next operation id; on a
 * re-run, an id that has a record returns (or throws) what was recorded and runs nothing.
 */
import {
  OperonNonDeterminismError,
  OperonNotRegisteredError,
  getClassRegistration,
  type ChildInvokerOf,
  type ChildStarterOf,
  type OperationsOf,
  type OperonLogger,
  type OperonSpan,
  type WorkflowContext,
  type WorkflowHandle,
} from '@operon/sdk';
import type { OperationRecord, WorkflowIdentity } from '../system-db/system-database.js';
import { authorize } from './authorization.js';
import type { RegisteredFunction } from './function-registry.js';
import { lazyLogger, readConfigPath } from './operation-context.js';
import type { RuntimeSpan } from '../telemetry/tracing.js';
import type { Context } from '@opentelemetry/api';
import { deserialize, deserializeError } from './serialization.js';
import type { WorkflowExecutor } from './workflow-executor.js';

export interface WorkflowRun {
  readonly workflowUUID: string;
  readonly fn: RegisteredFunction;
  readonly identity: WorkflowIdentity;
  readonly parentSpan?: RuntimeSpan | Context;
}

/** A run in progress, with the span its operations are children of. */
export interface SpannedRun extends WorkflowRun {
  readonly span: RuntimeSpan;
}

export class WorkflowContextImpl implements WorkflowContext {
  protected nextFunctionID = 0;
  private readonly log: () => OperonLogger;

  constructor(
    protected readonly executor: WorkflowExecutor,
    protected readonly run: SpannedRun,
    /** Records of an earlier run; undefined on a first run, which cannot have any. */
    protected readonly records: ReadonlyMap<number, OperationRecord> | undefined,
  ) {
    this.log = lazyLogger(executor.deps.logger, () => ({
      workflowUUID: run.workflowUUID,
      operationName: run.fn.name,
      operationType: 'workflow',
    }));
  }

  get workflowUUID(): string {
    return this.run.workflowUUID;
  }
  get span(): OperonSpan {
    return this.run.span;
  }
  get authenticatedUser(): string {
    return this.run.identity.authenticatedUser;
  }
  get authenticatedRoles(): readonly string[] {
    return this.run.identity.authenticatedRoles;
  }
  get assumedRole(): string {
    return this.run.identity.assumedRole;
  }
  get logger(): OperonLogger {
    return this.log();
  }

  getConfig<T>(key: string, defaultValue?: T): T | undefined {
    return readConfigPath(this.executor.deps.application, key, defaultValue);
  }

  /**
   * Takes the next operation id. If an earlier run recorded it, returns the record (after checking
   * it is of the same function); otherwise runs `body` with that id.
   */
  async operation<T>(functionName: string, body: (functionID: number) => Promise<T>): Promise<T> {
    const functionID = this.nextFunctionID++;
    const recorded = this.records?.get(functionID);
    if (!recorded) return body(functionID);
    if (recorded.functionName !== functionName) {
      throw new OperonNonDeterminismError(this.run.workflowUUID, functionID, functionName, recorded.functionName);
    }
    if (recorded.error !== null) throw deserializeError(recorded.error);
    return deserialize<T>(recorded.output);
  }

  invoke<T extends object>(cls: T): OperationsOf<T> {
    return methodProxy(cls, this.executor, ['transaction', 'communicator'], async (fn, args) => {
      // Roles travel with the workflow: its operations are checked against the identity it started with.
      authorize(fn, this.run.identity);
      return this.operation(fn.name, (functionID) => this.executor.runOperation(this.run, functionID, fn, args));
    }) as OperationsOf<T>;
  }

  startChildWorkflow<T extends object>(cls: T): ChildStarterOf<T> {
    return methodProxy(cls, this.executor, ['workflow'], (fn, args) => this.startChild(fn, args)) as ChildStarterOf<T>;
  }

  invokeChildWorkflow<T extends object>(cls: T): ChildInvokerOf<T> {
    return methodProxy(cls, this.executor, ['workflow'], async (fn, args) =>
      (await this.startChild(fn, args)).getResult(),
    ) as ChildInvokerOf<T>;
  }

  /** A child's UUID derives from the parent's and the operation id, so a re-run finds the same child. */
  private async startChild(fn: RegisteredFunction, args: unknown[]): Promise<WorkflowHandle<unknown>> {
    const childUUID = await this.operation(fn.name, async (functionID) => {
      const uuid = `${this.run.workflowUUID}-${functionID}`;
      await this.executor.startWorkflow(fn, args, {
        workflowUUID: uuid,
        identity: this.run.identity,
        parentUUID: this.run.workflowUUID,
        parentSpan: this.run.span,
      });
      await this.executor.deps.systemDb.recordOperation(this.run.workflowUUID, functionID, {
        functionName: fn.name,
        output: JSON.stringify(uuid),
        error: null,
      });
      return uuid;
    });
    return this.retrieveWorkflow(childUUID);
  }

  retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R> {
    return this.executor.retrieveWorkflow<R>(workflowUUID);
  }

  send<M>(destinationUUID: string, message: M, topic?: string): Promise<void> {
    return this.executor.messaging.sendFromWorkflow(this, destinationUUID, message, topic);
  }

  recv<M = unknown>(topic?: string, timeoutSeconds = 60): Promise<M | null> {
    return this.executor.messaging.recv<M>(this, topic, timeoutSeconds);
  }

  setEvent<V>(key: string, value: V): Promise<void> {
    return this.executor.messaging.setEvent(this, key, value);
  }

  getEvent<V = unknown>(workflowUUID: string, key: string, timeoutSeconds = 60): Promise<V | null> {
    return this.executor.messaging.getEventFromWorkflow<V>(this, workflowUUID, key, timeoutSeconds);
  }

  sleep(seconds: number): Promise<void> {
    return this.executor.messaging.sleep(this, seconds);
  }
}

type Kind = 'workflow' | 'transaction' | 'communicator';

/**
 * An object with one function per registered method of `cls` of the given kinds. Any other name
 * throws a clear error instead of "is not a function".
 */
export function methodProxy(
  cls: object,
  executor: WorkflowExecutor,
  kinds: readonly Kind[],
  call: (fn: RegisteredFunction, args: unknown[]) => Promise<unknown>,
): object {
  const registration = getClassRegistration(cls);
  const className = registration?.className ?? (cls as { name?: string }).name ?? 'anonymous class';
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property !== 'string' || property === 'then') return undefined;
        const fn = executor.deps.registry.lookup(cls, property);
        if (!fn.method.kind || !kinds.includes(fn.method.kind)) {
          throw new OperonNotRegisteredError(
            `${className}.${property}`,
            `it is a ${fn.method.kind ?? 'handler'}, and this call takes a ${kinds.join(' or ')}`,
          );
        }
        return (...args: unknown[]) => call(fn, args);
      },
    },
  );
}
