/**
 * Replays a recorded workflow (`operon debug`): the workflow function runs again with a context
 * whose every operation returns its recorded output or throws its recorded error. Nothing runs
 * and nothing is written; the report says where the code and the record disagree.
 */
import { OperonWorkflowNotFoundError, type WorkflowHandle } from '@operon/sdk';
import type { OperonRuntime } from '../runtime.js';
import { WorkflowContextImpl, type SpannedRun } from '../executor/workflow-context.js';
import { MESSAGING_OPERATIONS } from '../executor/workflow-messaging.js';
import { TEMPORARY_PREFIX } from '../executor/workflow-executor.js';
import { identityOf } from '../system-db/workflow-status.js';
import { deserialize, deserializeError, serialize } from '../executor/serialization.js';
import type { OperationRecord, WorkflowRow } from '../system-db/system-database.js';
import { TRACING_OFF } from '../telemetry/tracing.js';

export type DivergenceKind = 'different-function' | 'extra-operation' | 'missing-operations' | 'different-result' | 'not-registered';

export interface ReplayedOperation {
  readonly functionID: number;
  readonly functionName: string;
  readonly kind: string;
  readonly outcome: 'output' | 'error';
  /** The recorded output or error, shortened for one line. */
  readonly summary: string;
}

export interface ReplayOutcome {
  readonly output?: unknown;
  readonly error?: { readonly name: string; readonly message: string };
}

export interface ReplayReport {
  readonly workflowUUID: string;
  readonly workflowName: string;
  readonly recordedStatus: string;
  readonly operations: ReplayedOperation[];
  /** What the replay produced; absent when it stopped or diverged before the end. */
  readonly result?: ReplayOutcome;
  readonly recordedResult?: ReplayOutcome;
  /** True when every operation and the result agree with the record. */
  readonly matches: boolean;
  readonly divergence?: { readonly kind: DivergenceKind; readonly functionID?: number; readonly message: string };
  /** A PENDING workflow replays up to its last recorded operation and stops there. */
  readonly stoppedAt?: { readonly functionID: number; readonly message: string };
}

/** Why a replay halted early; kept on the context so app code that catches it cannot hide it. */
type Halt =
  | { type: 'divergence'; kind: DivergenceKind; functionID?: number; message: string }
  | { type: 'stop'; functionID: number; message: string };

class ReplayHalted extends Error {
  constructor(readonly halt: Halt) {
    super(halt.message);
  }
}

const SUMMARY_LENGTH = 80;

function summarize(text: string | null): string {
  const value = text ?? 'undefined';
  return value.length > SUMMARY_LENGTH ? `${value.slice(0, SUMMARY_LENGTH - 1)}…` : value;
}

function errorSummary(text: string): string {
  const error = deserializeError(text);
  return summarize(`${error.name}: ${error.message}`);
}

class ReplayContext extends WorkflowContextImpl {
  readonly trace: ReplayedOperation[] = [];
  halt: Halt | undefined;

  constructor(
    runtime: OperonRuntime,
    run: SpannedRun,
    records: ReadonlyMap<number, OperationRecord>,
    private readonly pending: boolean,
  ) {
    super(runtime.executor, run, records);
  }

  get consumedOperations(): number {
    return this.nextFunctionID;
  }

  private stop(halt: Halt): never {
    this.halt ??= halt;
    throw new ReplayHalted(this.halt);
  }

  override async operation<T>(functionName: string): Promise<T> {
    if (this.halt) throw new ReplayHalted(this.halt);
    const functionID = this.nextFunctionID++;
    const recorded = this.records?.get(functionID);
    if (!recorded) {
      if (this.pending) {
        this.stop({ type: 'stop', functionID, message: `the workflow is PENDING and has no record yet at operation ${functionID} (${functionName}): it stopped here` });
      }
      this.stop({
        type: 'divergence',
        kind: 'extra-operation',
        functionID,
        message: `operation ${functionID}: the code calls ${functionName}, but the recorded run has no operation ${functionID}`,
      });
    }
    if (recorded.functionName !== functionName) {
      this.stop({
        type: 'divergence',
        kind: 'different-function',
        functionID,
        message: `operation ${functionID}: the code calls ${functionName}, but the record is of ${recorded.functionName}`,
      });
    }
    this.trace.push({
      functionID,
      functionName,
      kind: this.kindOf(functionName),
      outcome: recorded.error === null ? 'output' : 'error',
      summary: recorded.error === null ? summarize(recorded.output) : errorSummary(recorded.error),
    });
    if (recorded.error !== null) throw deserializeError(recorded.error);
    return deserialize<T>(recorded.output);
  }

  /** A recorded sleep is over for the replay: no waiting. */
  override async sleep(): Promise<void> {
    await this.operation(MESSAGING_OPERATIONS.sleep);
  }

  /** A child's result is read from its record once; a child still running ends the replay there. */
  override retrieveWorkflow<R = unknown>(workflowUUID: string): WorkflowHandle<R> {
    const systemDb = this.executor.deps.systemDb;
    return {
      getWorkflowUUID: () => workflowUUID,
      getStatus: () => this.executor.retrieveWorkflow<R>(workflowUUID).getStatus(),
      getResult: async () => {
        const row = await systemDb.getWorkflow(workflowUUID);
        if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
        if (row.status === 'SUCCESS') return deserialize<R>(row.output);
        if (row.status === 'PENDING') {
          this.stop({ type: 'stop', functionID: this.nextFunctionID, message: `child workflow ${workflowUUID} is still PENDING: the replay stops here` });
        }
        throw deserializeError(row.error ?? '{"name":"Error","message":"the child workflow failed","fields":{}}');
      },
    };
  }

  private kindOf(functionName: string): string {
    if (functionName.startsWith('operon.')) return functionName.slice('operon.'.length);
    const kind = this.executor.deps.registry.byQualifiedName(functionName)?.method.kind;
    return kind === 'workflow' ? 'child workflow' : (kind ?? 'unknown');
  }
}

function outcomeOf(row: WorkflowRow): ReplayOutcome | undefined {
  if (row.status === 'SUCCESS') return { output: deserialize(row.output) };
  if (row.status === 'ERROR' && row.error) {
    const error = deserializeError(row.error);
    return { error: { name: error.name, message: error.message } };
  }
  return undefined;
}

function sameOutcome(a: ReplayOutcome, b: ReplayOutcome | undefined): boolean {
  if (!b) return false;
  if (a.error || b.error) return a.error?.name === b.error?.name && a.error?.message === b.error?.message;
  return serialize(a.output, 'the replayed result') === serialize(b.output, 'the recorded result');
}

/** Replays workflow `workflowUUID` from its record; throws OperonWorkflowNotFoundError if there is none. */
export async function replayWorkflow(runtime: OperonRuntime, workflowUUID: string): Promise<ReplayReport> {
  const row = await runtime.systemDb.getWorkflow(workflowUUID);
  if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
  const temporary = row.workflowName.startsWith(TEMPORARY_PREFIX);
  const name = temporary ? row.workflowName.slice(TEMPORARY_PREFIX.length) : row.workflowName;
  const recordedResult = outcomeOf(row);
  const base = { workflowUUID, workflowName: name, recordedStatus: row.status, recordedResult };
  const fn = runtime.registry.byQualifiedName(name);
  if (!fn) {
    const message = `${name} is not registered in this app: the code no longer has the workflow that was recorded`;
    return { ...base, operations: [], matches: false, divergence: { kind: 'not-registered', message } };
  }
  const records = (await runtime.systemDb.loadRecords([workflowUUID])).get(workflowUUID) ?? new Map<number, OperationRecord>();
  const run: SpannedRun = { workflowUUID, fn, identity: identityOf(row), span: TRACING_OFF.startSpan('', {}) };
  const ctx = new ReplayContext(runtime, run, records, row.status === 'PENDING');
  const args = deserialize<unknown[]>(row.inputs) ?? [];
  let result: ReplayOutcome;
  try {
    const output = temporary ? await ctx.operation(fn.name) : await fn.method.fn.call(fn.cls, ctx, ...args);
    result = { output: deserialize(serialize(output, 'the replayed result')) };
  } catch (error) {
    const err = error as Error;
    result = { error: { name: err.name, message: err.message } };
  }
  const operations = ctx.trace;
  const halt = ctx.halt;
  if (halt?.type === 'stop') return { ...base, operations, matches: true, stoppedAt: { functionID: halt.functionID, message: halt.message } };
  if (halt) return { ...base, operations, matches: false, divergence: { kind: halt.kind, functionID: halt.functionID, message: halt.message } };
  const unreplayed = [...records.keys()].filter((id) => id >= ctx.consumedOperations).sort((a, b) => a - b);
  if (unreplayed.length > 0) {
    const first = unreplayed[0]!;
    const message = `the code made ${ctx.consumedOperations} operations, but the recorded run made more: operation ${first} (${records.get(first)!.functionName}) was not called`;
    return { ...base, operations, result, matches: false, divergence: { kind: 'missing-operations', functionID: first, message } };
  }
  if (row.status === 'PENDING') return { ...base, operations, result, matches: true };
  if (!sameOutcome(result, recordedResult)) {
    const message = `the replay returned ${describe(result)}, but the recorded result is ${describe(recordedResult)}`;
    return { ...base, operations, result, matches: false, divergence: { kind: 'different-result', message } };
  }
  return { ...base, operations, result, matches: true };
}

function describe(outcome: ReplayOutcome | undefined): string {
  if (!outcome) return 'nothing';
  if (outcome.error) return `the error ${outcome.error.name}: ${outcome.error.message}`;
  return summarize(serialize(outcome.output, 'a result'));
}
