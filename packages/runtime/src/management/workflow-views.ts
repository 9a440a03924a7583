/**
 * How workflows are shown, by the management API and `operon workflows --json` alike: a summary
 * per listed workflow; one workflow in detail with its children, what it waits on and whether it
 * is stuck; and its steps. Times are ISO 8601; values are the recorded JSON, parsed.
 */
import type { FunctionRegistry } from '../executor/function-registry.js';
import { MESSAGING_OPERATIONS } from '../executor/steps/messaging-steps.js';
import type { ManagedWorkflowRow, OwnerState, StepRecord } from './workflow-queries.js';
import { HANDOVER_EXECUTOR } from '../system-db/versions.js';
import { storedValueForDisplay } from '../executor/value-codec.js';
import type { RemovedChild } from './removed-children.js';

export interface WorkflowSummaryView {
  readonly workflowUUID: string;
  readonly status: string;
  readonly workflowName: string;
  readonly executorId: string;
  readonly authenticatedUser: string;
  readonly assumedRole: string;
  readonly authenticatedRoles: readonly string[];
  readonly parentUUID: string | null;
  readonly recoveryAttempts: number;
  /** The queue it was enqueued on (kept after it left it); null if never enqueued. */
  readonly queueName: string | null;
  /** The version (code hash) it runs on; null when started without a bundle. */
  readonly version: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What a PENDING or ENQUEUED workflow waits for, derived from its last records and its owner. */
export type WaitingOn =
  | { readonly kind: 'operation'; readonly functionID: number; readonly executorId: string; readonly since: string }
  | { readonly kind: 'sleep'; readonly functionID: number; readonly until: string }
  | { readonly kind: 'recv'; readonly functionID: number; readonly until: string; readonly topic?: string | null }
  | { readonly kind: 'getEvent'; readonly functionID: number; readonly until: string; readonly workflowUUID?: string; readonly key?: string }
  | { readonly kind: 'child'; readonly functionID: number; readonly workflowUUID: string }
  | {
      readonly kind: 'queue';
      readonly queueName: string;
      /** 1 for the next workflow the queue starts: its place among the queue's waiting workflows. */
      readonly position: number;
      /** Set while its delay lasts: it starts no earlier than this, whatever its position. */
      readonly notBefore: string | null;
    }
  | { readonly kind: 'adoption'; readonly executorId: string; readonly lastHeartbeatAt: string; readonly adoptionDueBy: string }
  /** Handed over by an executor (on `leftOn`) that could not load its version: an executor that can adopts it. */
  | { readonly kind: 'version'; readonly version: string; readonly leftOn: string; readonly since: string };

export interface WorkflowDetailView extends WorkflowSummaryView {
  readonly inputs: unknown;
  readonly output: unknown;
  readonly error: unknown;
  readonly request: unknown;
  readonly children: readonly WorkflowSummaryView[];
  /** Children its records started that no longer exist (removed alone, before families were kept together, or by hand). */
  readonly removedChildren: readonly RemovedChild[];
  /** Null for a workflow that has ended. */
  readonly waitingOn: WaitingOn | null;
  readonly stuck: boolean;
}

export interface StepView {
  readonly functionID: number;
  readonly functionName: string;
  /** transaction, communicator, child, send, recv, setEvent, getEvent, sleep, deadline, getStatus, getResult, or operation (unknown here). */
  readonly kind: string;
  /** When the operation began (this run reached it); null in a record written before starts were recorded. */
  readonly startedAt: string | null;
  readonly endedAt: string;
  /**
   * What a send, recv, setEvent or getEvent (and a recv's or getEvent's deadline) addressed: a
   * send's `{ destinationUUID, topic }`, a recv's `{ topic }`, a setEvent's `{ key }`, a getEvent's
   * `{ workflowUUID, key }` (`topic` null: the default topic). Null for other operations.
   */
  readonly target: StepTarget | null;
  readonly output: unknown;
  readonly error: unknown;
  readonly childUUID: string | null;
  /** For a recv: the message it consumed (null when it timed out). */
  readonly messageConsumed: unknown;
  /** For a setEvent: the value it set. */
  readonly eventSet: unknown;
  /** For a sleep, or a recv's or getEvent's timeout: when it ends. */
  readonly deadline: string | null;
}

export interface StepTarget {
  readonly destinationUUID?: string;
  readonly workflowUUID?: string;
  readonly topic?: string | null;
  readonly key?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
/** A stored value as readable JSON: plain JSON as stored, a tagged value as its tagged tree. */
const parsed = storedValueForDisplay;

export function summaryView(row: ManagedWorkflowRow): WorkflowSummaryView {
  return {
    workflowUUID: row.workflowUUID,
    status: row.status,
    workflowName: row.workflowName,
    executorId: row.executorId,
    authenticatedUser: row.authenticatedUser,
    assumedRole: row.assumedRole,
    authenticatedRoles: row.authenticatedRoles,
    parentUUID: row.parentUUID,
    recoveryAttempts: row.recoveryAttempts,
    queueName: row.queueName,
    version: row.version,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

/** Heartbeats run every 2 s: a dead owner's workflows are adopted within one of its lapse. */
const HEARTBEAT_MS = 2_000;
const TIMED_WAITS = new Set(['sleep', 'recv', 'getEvent', 'queue']);

export interface DetailInputs {
  readonly row: ManagedWorkflowRow;
  readonly children: readonly ManagedWorkflowRow[];
  readonly removedChildren?: readonly RemovedChild[];
  readonly records: readonly StepRecord[];
  readonly owner: OwnerState | undefined;
  /** An ENQUEUED workflow's place in its queue (1: next). */
  readonly queuePosition?: number;
  /** The runtime clock's now (epoch ms). */
  readonly now: number;
  readonly stuckAfterMs: number;
}

export function detailView(inputs: DetailInputs): WorkflowDetailView {
  const { row, children, records, owner, now, stuckAfterMs } = inputs;
  const waitingOn = waitingOnOf(inputs);
  const lastProgress = Math.max(row.createdAt, ...records.map((r) => r.recordedAt));
  const stuck =
    waitingOn !== null &&
    !TIMED_WAITS.has(waitingOn.kind) &&
    !(waitingOn.kind === 'child' && children.some((c) => c.workflowUUID === waitingOn.workflowUUID && c.status === 'PENDING')) &&
    now - lastProgress > stuckAfterMs;
  void owner;
  return {
    ...summaryView(row),
    inputs: parsed(row.inputs),
    output: parsed(row.output),
    error: parsed(row.error),
    request: parsed(row.request),
    children: children.map(summaryView),
    removedChildren: inputs.removedChildren ?? [],
    waitingOn,
    stuck,
  };
}

function waitingOnOf({ row, children, records, owner, now, queuePosition }: DetailInputs): WaitingOn | null {
  if (row.status === 'ENQUEUED') {
    const notBefore = row.queueNotBefore ?? null;
    return {
      kind: 'queue',
      queueName: row.queueName ?? '',
      position: queuePosition ?? 1,
      notBefore: notBefore !== null && notBefore > now ? iso(notBefore) : null,
    };
  }
  if (row.status !== 'PENDING') return null;
  if (owner && !owner.alive && owner.executorId === HANDOVER_EXECUTOR && owner.version !== null) {
    return { kind: 'version', version: owner.version, leftOn: owner.host, since: iso(owner.heartbeatAt) };
  }
  if (owner && !owner.alive) {
    const lapse = owner.heartbeatAt + owner.leaseMs;
    return {
      kind: 'adoption',
      executorId: owner.executorId,
      lastHeartbeatAt: iso(owner.heartbeatAt),
      // By the database's clock, which judges lapses; one heartbeat of a live executor after the lapse.
      adoptionDueBy: iso(Math.max(lapse, owner.databaseNow) + HEARTBEAT_MS),
    };
  }
  const last = records[records.length - 1];
  const next = last ? last.functionID + 1 : 0;
  const deadline = last && last.output !== null ? Number(JSON.parse(last.output)) : NaN;
  if (last?.functionName === MESSAGING_OPERATIONS.sleep && deadline > now) return { kind: 'sleep', functionID: last.functionID, until: iso(deadline) };
  // The deadline's record names what the wait is for (absent in records written before that was recorded).
  const target = last?.detail ? (JSON.parse(last.detail) as StepTarget) : {};
  if (last?.functionName === MESSAGING_OPERATIONS.recvDeadline) return { kind: 'recv', functionID: next, until: iso(deadline), ...target };
  if (last?.functionName === MESSAGING_OPERATIONS.getEventDeadline) return { kind: 'getEvent', functionID: next, until: iso(deadline), ...target };
  const childUUID = last && childOf(last, children);
  if (last && childUUID) return { kind: 'child', functionID: last.functionID, workflowUUID: childUUID };
  return { kind: 'operation', functionID: next, executorId: owner?.executorId ?? row.executorId, since: iso(last?.recordedAt ?? row.createdAt) };
}

/** The child a record started: its output is the UUID of one of the workflow's children. */
function childOf(record: StepRecord, children: readonly ManagedWorkflowRow[]): string | null {
  if (record.database !== 'system' || record.output === null || !record.output.startsWith('"')) return null;
  const value = JSON.parse(record.output) as string;
  return children.some((c) => c.workflowUUID === value) ? value : null;
}

function kindOf(record: StepRecord, childUUID: string | null, registry: FunctionRegistry | undefined): string {
  if (record.database === 'app') return 'transaction';
  const name = record.functionName;
  if (name === MESSAGING_OPERATIONS.recvDeadline || name === MESSAGING_OPERATIONS.getEventDeadline) return 'deadline';
  for (const [kind, recorded] of Object.entries(MESSAGING_OPERATIONS)) if (name === recorded) return kind;
  if (name.startsWith('operon.getStatus(')) return 'getStatus';
  if (name.startsWith('operon.getResult(')) return 'getResult';
  if (childUUID) return 'child';
  return registry?.byQualifiedName(name)?.method.kind ?? 'operation';
}

export function stepViews(records: readonly StepRecord[], children: readonly ManagedWorkflowRow[], registry?: FunctionRegistry): StepView[] {
  return records.map((record) => {
    const childUUID = childOf(record, children);
    const kind = kindOf(record, childUUID, registry);
    const output = parsed(record.output);
    const view: StepView = {
      functionID: record.functionID,
      functionName: record.functionName,
      kind,
      startedAt: record.startedAt === null ? null : iso(record.startedAt),
      endedAt: iso(record.recordedAt),
      target: record.detail === null ? null : (JSON.parse(record.detail) as StepTarget),
      output,
      error: parsed(record.error),
      childUUID,
      messageConsumed: kind === 'recv' ? output : null,
      eventSet: null,
      deadline: (kind === 'sleep' || kind === 'deadline') && typeof output === 'number' ? iso(output) : null,
    };
    return view;
  });
}
