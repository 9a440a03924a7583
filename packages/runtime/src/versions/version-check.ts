/**
 * The replay gate of a deploy (`operon debug --check`) and of moving a workflow to other code
 * (`resume`/`fork --version`): open workflows replayed from their records on other code, in
 * read-only sessions, nothing run and nothing written. A workflow passes when the code makes the
 * operations its records hold, in order, up to where they end.
 */
import { OperonError, OperonWorkflowNotFoundError } from '@operon/sdk';
import type { OperonRuntime } from '../runtime.js';
import type { FunctionRegistry } from '../executor/function-registry.js';
import { replayRecords, type Divergence } from '../debug/workflow-replay.js';
import type { OperationRecord } from '../system-db/system-database.js';
import { heldOutputs, heldOutputsOf } from '../system-db/fork-copies.js';
import { OperonManagementRequestError } from '../management/workflow-filter.js';
import type { CheckedMove, CheckedRecords, ForkMove } from '../management/workflow-changes.js';

const CHECK_PAGE = 500;

export interface CheckedDivergence {
  readonly workflowUUID: string;
  readonly workflowName: string;
  readonly status: string;
  /** The version the workflow recorded; null for one started without a bundle. */
  readonly version: string | null;
  readonly divergence: Divergence;
}

export interface CheckReport {
  /** Open workflows (PENDING and ENQUEUED) replayed. */
  readonly checked: number;
  readonly divergences: CheckedDivergence[];
}

/** Replays every open workflow on `registry`'s code (by default the runtime's own): those that would diverge on it. */
export async function checkOpenWorkflows(runtime: OperonRuntime, registry: FunctionRegistry = runtime.registry): Promise<CheckReport> {
  const divergences: CheckedDivergence[] = [];
  let checked = 0;
  let after = '';
  for (;;) {
    const rows = await runtime.systemDb.openWorkflows(after, CHECK_PAGE);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.workflowUUID;
    const records = await runtime.systemDb.loadRecords(rows.map((row) => row.workflowUUID));
    // A fork not yet adopted replays the transaction outputs its note holds: they are checked too.
    const held = await heldOutputsOf(runtime.systemDb.systemPool, rows.map((row) => row.workflowUUID));
    for (const row of rows) {
      const own = records.get(row.workflowUUID) ?? new Map<number, OperationRecord>();
      for (const output of held.get(row.workflowUUID) ?? []) own.set(output.functionId, { functionName: output.functionName, output: output.output, error: null });
      const report = await replayRecords(runtime, row, own, registry, true);
      checked++;
      if (report.divergence) {
        divergences.push({ workflowUUID: row.workflowUUID, workflowName: row.workflowName, status: row.status, version: row.version, divergence: report.divergence });
      }
    }
  }
  return { checked, divergences };
}

/** A workflow moved to another version diverges there: answered 409, with the divergence. */
export class OperonVersionCheckDivergedError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_VERSION_CHECK_DIVERGED';
  readonly status = 409;
  constructor(
    readonly workflowUUID: string,
    readonly version: string,
    readonly divergence: Divergence,
  ) {
    super(`workflow ${workflowUUID} cannot move to version ${version}: its records diverge from that code: ${divergence.message}${divergence.location ? ` (called at ${divergence.location})` : ''}`);
  }
}

/** `latest` (the version deployed last) or a stored version's hash; anything else is refused, naming it. */
export async function resolveVersion(runtime: OperonRuntime, asked: unknown): Promise<string> {
  if (asked === 'latest') {
    const latest = await runtime.systemDb.latestVersion();
    if (latest === undefined) throw new OperonManagementRequestError('version "latest": no version is stored on this system database (operon start stores the bundle it serves)');
    return latest;
  }
  if (typeof asked !== 'string' || !/^[0-9a-f]{16}$/.test(asked)) {
    throw new OperonManagementRequestError(`version must be "latest" or a version's 16 hex digits (operon versions lists them), got ${JSON.stringify(asked)}`);
  }
  if (!(await runtime.systemDb.versionExists(asked))) throw new OperonManagementRequestError(`version ${asked} is not stored on this system database (operon versions lists them)`);
  return asked;
}

/**
 * Checks that workflow `workflowUUID` can go on on `version`'s code from its records (those before
 * `beforeStep` for a fork): the version is loaded (or is this runtime's own), the records are
 * replayed there, and a divergence is thrown as OperonVersionCheckDivergedError. Answers how many
 * of the workflow's records each database held before they were read: a change that finds
 * another count has records this check did not see.
 */
export async function checkMove(runtime: OperonRuntime, workflowUUID: string, version: string, beforeStep?: number): Promise<CheckedRecords> {
  const counted = await recordCounts(runtime, workflowUUID, beforeStep);
  const row = await runtime.systemDb.getWorkflow(workflowUUID);
  if (!row) throw new OperonWorkflowNotFoundError(workflowUUID);
  const all = (await runtime.systemDb.loadRecords([workflowUUID])).get(workflowUUID) ?? new Map<number, OperationRecord>();
  // A fork not yet adopted replays the transaction outputs its note holds: they are checked too.
  const held = await heldOutputs(runtime.systemDb.systemPool, runtime.systemDb.appPool, workflowUUID, beforeStep ?? 2 ** 31 - 1);
  for (const output of held ?? []) all.set(output.functionId, { functionName: output.functionName, output: output.output, error: null });
  const records = beforeStep === undefined ? all : new Map([...all].filter(([id]) => id < beforeStep));
  const versions = runtime.executor.deps.versions;
  const own = version === runtime.registry.version;
  const registry = own ? runtime.registry : await versions.acquire(version).catch((error: unknown) => {
    versions.release(version);
    throw error;
  });
  try {
    const report = await replayRecords(runtime, row, records, registry, true);
    if (report.divergence) throw new OperonVersionCheckDivergedError(workflowUUID, version, report.divergence);
  } finally {
    if (!own) versions.release(version);
  }
  return counted;
}

/** The workflow's records before `beforeStep`: in the system database, and its transactions' outputs in the app database. */
async function recordCounts(runtime: OperonRuntime, workflowUUID: string, beforeStep = 2 ** 31 - 1): Promise<CheckedRecords> {
  const count = (table: string) => `SELECT count(*)::int AS n FROM operon.${table} WHERE workflow_uuid = $1 AND function_id < $2`;
  const [system, transactions] = await Promise.all([
    runtime.systemDb.systemPool.query(count('operation_outputs'), [workflowUUID, beforeStep]),
    runtime.systemDb.appPool.query(count('transaction_outputs'), [workflowUUID, beforeStep]),
  ]);
  return { system: system.rows[0].n as number, transactions: transactions.rows[0].n as number };
}

/**
 * The version a resume or fork asks to move a workflow to (`{ version }` in its request), resolved
 * and checked for it: undefined when none is asked; refused when the workflow diverges there.
 */
export async function checkedVersionOf(runtime: OperonRuntime, workflowUUID: string, asked: unknown, beforeStep?: number): Promise<string | undefined> {
  if (asked === undefined) return undefined;
  const version = await resolveVersion(runtime, asked);
  await checkMove(runtime, workflowUUID, version, beforeStep);
  return version;
}

/**
 * A resume's move to the version it asks for (`{ version }`), checked on the records as they are
 * now; the resume checks again when the workflow has gained records since (a cancelled run's
 * operation in flight recorded while the resume waited for it). Undefined when none is asked.
 */
export async function checkedMoveOf(runtime: OperonRuntime, workflowUUID: string, asked: unknown): Promise<CheckedMove | undefined> {
  if (asked === undefined) return undefined;
  const version = await resolveVersion(runtime, asked);
  const check = () => checkMove(runtime, workflowUUID, version);
  return { version, workflowUUID, records: await check(), check };
}

/**
 * A fork's move to the version it asks for (`{ version }`), resolved now and checked by the fork
 * itself once it holds the new UUID, on the records it copies. Undefined when none is asked.
 */
export async function forkMoveOf(runtime: OperonRuntime, workflowUUID: string, asked: unknown, fromStep: number): Promise<ForkMove | undefined> {
  if (asked === undefined) return undefined;
  const version = await resolveVersion(runtime, asked);
  return { version, check: () => checkMove(runtime, workflowUUID, version, fromStep) };
}
