import type pg from 'pg';
import { ownedCheck, ownedCte } from './ownership.js';

/** What one completed operation left behind: its function and its output or error (JSON text). */
export interface OperationRecord {
  readonly functionName: string;
  readonly output: string | null;
  readonly error: string | null;
}

export type RecordsByWorkflow = Map<string, Map<number, OperationRecord>>;

/** What a record write found: the record that stands, and whether the workflow was cancelled. */
export interface RecordedOperation {
  readonly record: OperationRecord;
  /** The workflow is CANCELLED: this was the operation in flight, and no further one may start. */
  readonly cancelled: boolean;
}

/** Where a record goes: the workflow, its operation id, the writer that owns it, and when the operation began (epoch ms). */
export interface RecordSite {
  readonly workflowUUID: string;
  readonly functionID: number;
  readonly owner: string;
  readonly startedAt: number;
}

/**
 * Records an operation's output or error in one statement, fenced: only `owner` may write it. If
 * a record exists already (another run of the same workflow got there first) that record wins and
 * is returned instead. The same statement reads the workflow's status, so a run learns of a
 * cancel durably at its next record.
 */
export async function recordOperation(
  pool: pg.Pool,
  site: RecordSite,
  record: OperationRecord,
): Promise<RecordedOperation> {
  const { workflowUUID, functionID, owner } = site;
  const { rows } = await pool.query<{ inserted: boolean; status: string }>({
    name: 'operon_record_operation',
    text: `WITH ${ownedCte('$1', '$7')},
       inserted AS (
         INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $8) ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM inserted) AS inserted, ${ownedCheck('$1')} AS owned, (SELECT status FROM owned) AS status`,
    values: [workflowUUID, functionID, record.functionName, record.output, record.error, Date.now(), owner, site.startedAt],
  });
  const cancelled = rows[0]!.status === 'CANCELLED';
  if (rows[0]!.inserted) return { record, cancelled };
  return { record: (await loadOperationRecord(pool, workflowUUID, functionID)) ?? record, cancelled };
}

/** The record at one operation id of a workflow, if there is one: the one another run wrote first. */
export async function loadOperationRecord(pool: pg.Pool, workflowUUID: string, functionID: number): Promise<OperationRecord | undefined> {
  const { rows } = await pool.query(
    'SELECT function_name, output, error FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_id = $2',
    [workflowUUID, functionID],
  );
  const r = rows[0];
  return r ? { functionName: r.function_name, output: r.output, error: r.error } : undefined;
}

/** Every recorded operation of these workflows, in one query. */
export async function loadOperationRecords(pool: pg.Pool, workflowUUIDs: readonly string[]): Promise<RecordsByWorkflow> {
  const { rows } = await pool.query(
    `SELECT workflow_uuid, function_id, function_name, output, error FROM operon.operation_outputs
     WHERE workflow_uuid = ANY($1)`,
    [workflowUUIDs],
  );
  const byWorkflow: RecordsByWorkflow = new Map();
  for (const r of rows) {
    let records = byWorkflow.get(r.workflow_uuid);
    if (!records) byWorkflow.set(r.workflow_uuid, (records = new Map()));
    records.set(r.function_id, { functionName: r.function_name, output: r.output, error: r.error });
  }
  return byWorkflow;
}
