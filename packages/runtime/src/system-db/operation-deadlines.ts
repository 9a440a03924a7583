/**
 * Deadlines of waiting operations (sleep, and the timeouts of recv and getEvent), recorded as an
 * operation's output (epoch milliseconds) when the wait is first reached. A re-run reads the record
 * and waits only for what is left, so a recovered workflow wakes at its original time.
 */
import type pg from 'pg';
import { SQLSTATE, sqlState } from '../database/sqlstate.js';
import { loadOperationRecord, type OperationRecord } from './operation-outputs.js';

/**
 * A CTE (named `deadline`) recording a deadline at the operation id just before the waiting
 * operation's own. Parameters: the workflow, the waiting operation's id, the time now, the
 * deadline record's function name, and its value as JSON text (NULL: record nothing, the deadline
 * was recorded by an earlier run); the operation's start and detail (what it waits on), which the
 * deadline shares. A record already there wins.
 */
export function recordDeadlineCte(p: {
  workflow: string;
  functionID: string;
  now: string;
  name: string;
  value: string;
  startedAt: string;
  detail: string;
}): string {
  return `deadline AS (
    INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at, detail)
    SELECT ${p.workflow}::text, ${p.functionID}::int - 1, ${p.name}::text, ${p.value}::text, NULL, ${p.now}::bigint, ${p.startedAt}::bigint, ${p.detail}::text
    WHERE ${p.value}::text IS NOT NULL
    ON CONFLICT (workflow_uuid, function_id) DO NOTHING)`;
}

/**
 * Runs a statement that records an operation's output with a plain INSERT. If another run of the
 * same workflow recorded that operation first, the statement fails as a whole (so whatever it
 * consumed stays in place) and the other run's record is returned instead.
 */
export async function recordOrExisting(
  pool: pg.Pool,
  site: { readonly workflowUUID: string; readonly functionID: number; readonly functionName: string },
  statement: () => Promise<string | null | undefined>,
): Promise<OperationRecord | undefined> {
  let output: string | null | undefined;
  try {
    output = await statement();
  } catch (error) {
    if (sqlState(error) !== SQLSTATE.UNIQUE_VIOLATION) throw error;
    const existing = await loadOperationRecord(pool, site.workflowUUID, site.functionID);
    if (!existing) throw error;
    return existing;
  }
  return output === undefined ? undefined : { functionName: site.functionName, output, error: null };
}
