/**
 * Replays a recorded workflow (`operon debug`): the workflow function runs again on the same
 * durable step as a live run, under a replay policy: every operation returns its recorded output
 * or throws its recorded error, nothing runs and nothing is written, and the report says where
 * the code and the record disagree.
 */
import { OperonWorkflowNotFoundError } from '@operon/sdk';
import type { OperonRuntime } from '../runtime.js';
import { workflowBody } from '../executor/workflow-context.js';
import { identityOf } from '../system-db/workflow-status.js';
import { deserialize, deserializeError, serialize, storedError } from '../executor/serialization.js';
import type { StepPolicy } from '../executor/step-policy.js';
import type { FunctionRegistry } from '../executor/function-registry.js';
import type { OperationRecord, WorkflowRow } from '../system-db/system-database.js';

export type DivergenceKind = 'different-function' | 'extra-operation' | 'missing-operations' | 'different-result' | 'not-registered';

export interface Divergence {
  readonly kind: DivergenceKind;
  readonly functionID?: number;
  readonly message: string;
  /** The function the record holds at `functionID` (a different-function or missing-operations divergence). */
  readonly recordedFunction?: string;
  /** The function the code calls there (a different-function divergence). */
  readonly newFunction?: string;
  /** Where the code makes that call: `file:line:column` of the app's source (mapped by the bundle's source map). */
  readonly location?: string;
}

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
  readonly divergence?: Divergence;
  /** A PENDING workflow replays up to its last recorded operation and stops there. */
  readonly stoppedAt?: { readonly functionID: number; readonly message: string };
}

/** Why a replay halted early; kept on the policy, so app code that catches it cannot hide it. */
type Halt = ({ type: 'divergence' } & Divergence) | { type: 'stop'; functionID: number; message: string };

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

/** The replay policy: runs nothing, records each operation it replays, halts at the first disagreement. */
class ReplayPolicy implements StepPolicy {
  readonly runs = false;
  readonly waits = false;
  readonly trace: ReplayedOperation[] = [];
  halt: Halt | undefined;

  constructor(
    private readonly pending: boolean,
    private readonly kindOf: (functionName: string) => string,
  ) {}

  beforeStep(): void {
    if (this.halt) throw new ReplayHalted(this.halt);
  }

  missing(_workflowUUID: string, functionID: number, functionName: string): never {
    if (this.pending) {
      this.stop({ type: 'stop', functionID, message: `the workflow is PENDING and has no record yet at operation ${functionID} (${functionName}): it stopped here` });
    }
    const location = this.halt ? undefined : callSite();
    this.stop({
      type: 'divergence',
      kind: 'extra-operation',
      functionID,
      message: `operation ${functionID}: the code calls ${functionName}, but the recorded run has no operation ${functionID}`,
      newFunction: functionName,
      location,
    });
  }

  mismatch(_workflowUUID: string, functionID: number, functionName: string, recordedName: string): never {
    const location = this.halt ? undefined : callSite();
    this.stop({
      type: 'divergence',
      kind: 'different-function',
      functionID,
      message: `operation ${functionID}: the code calls ${functionName}, but the record is of ${recordedName}`,
      recordedFunction: recordedName,
      newFunction: functionName,
      location,
    });
  }

  matched(functionID: number, functionName: string, record: OperationRecord): void {
    if (this.trace.some((op) => op.functionID === functionID)) return;
    this.trace.push({
      functionID,
      functionName,
      kind: this.kindOf(functionName),
      outcome: record.error === null ? 'output' : 'error',
      summary: record.error === null ? summarize(record.output) : errorSummary(record.error),
    });
  }

  private stop(halt: Halt): never {
    this.halt ??= halt;
    throw new ReplayHalted(this.halt);
  }
}

/** Frames of Operon itself, of installed packages and of Node: the app's call is the first frame that is none of these. */
const NOT_THE_APP = /(^node:|[\\/]node_modules[\\/]|[\\/]packages[\\/](runtime|sdk)[\\/](src|dist)[\\/])/;

/** Where the app's code called the operation the replay is at: the first frame of the stack in the app's source. */
function callSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!match) continue;
    const file = match[1]!.replace(/^file:\/\//, '').replace(/\?.*$/, '');
    if (NOT_THE_APP.test(file)) continue;
    return `${file}:${match[2]}:${match[3]}`;
  }
  return undefined;
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
  const records = (await runtime.systemDb.loadRecords([workflowUUID])).get(workflowUUID) ?? new Map<number, OperationRecord>();
  return replayRecords(runtime, row, records, runtime.registry, row.status === 'PENDING');
}

/**
 * Replays `row` from `records` on the functions of `registry`. `asPending`: the records are a
 * prefix the code is to go on from (a PENDING workflow, or one moved to other code): the replay
 * stops where they end, and only what the code does with them is compared, not the result.
 */
export async function replayRecords(
  runtime: OperonRuntime,
  row: WorkflowRow,
  records: ReadonlyMap<number, OperationRecord>,
  registry: FunctionRegistry,
  asPending: boolean,
): Promise<ReplayReport> {
  const { workflowUUID } = row;
  const name = row.workflowName;
  const recordedResult = outcomeOf(row);
  const base = { workflowUUID, workflowName: name, recordedStatus: row.status, recordedResult };
  const fn = registry.byQualifiedName(name);
  if (!fn) {
    const message = `${name} is not registered in this app: the code no longer has the workflow that was recorded`;
    return { ...base, operations: [], matches: false, divergence: { kind: 'not-registered', message } };
  }
  const kindOf = (functionName: string) => {
    if (functionName.startsWith('operon.')) return functionName.slice('operon.'.length).replace(/\(.*$/, '');
    const kind = registry.byQualifiedName(functionName)?.method.kind;
    return kind === 'workflow' ? 'child workflow' : (kind ?? 'unknown');
  };
  const policy = new ReplayPolicy(asPending, kindOf);
  const execution = runtime.executor.executionOf({ workflowUUID, fn, kind: row.kind, identity: identityOf(row), owner: '', epoch: 0 }, records, policy, registry);
  const outcome = await execution.runBody(deserialize<unknown[]>(row.inputs) ?? [], workflowBody);
  // The stored form of what was thrown, as the record holds it: anything may be thrown.
  const thrown = 'error' in outcome ? storedError(outcome.error) : undefined;
  const result: ReplayOutcome = thrown ? { error: { name: thrown.name, message: thrown.message } } : { output: deserialize((outcome as { output: string | null }).output) };
  const operations = [...policy.trace].sort((a, b) => a.functionID - b.functionID);
  const halt = policy.halt;
  if (halt?.type === 'stop') return { ...base, operations, matches: true, stoppedAt: { functionID: halt.functionID, message: halt.message } };
  if (halt) {
    const { type: _, ...divergence } = halt;
    return { ...base, operations, matches: false, divergence };
  }
  const unreplayed = [...records.keys()].filter((id) => id >= execution.takenIds).sort((a, b) => a - b);
  if (unreplayed.length > 0) {
    const first = unreplayed[0]!;
    const recordedFunction = records.get(first)!.functionName;
    const message = `the code made ${execution.takenIds} operations, but the recorded run made more: operation ${first} (${recordedFunction}) was not called`;
    return { ...base, operations, result, matches: false, divergence: { kind: 'missing-operations', functionID: first, message, recordedFunction } };
  }
  if (asPending) return { ...base, operations, result, matches: true };
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
