/** The outputs of committed transactions, kept in the app database (schema `operon`). */
import type pg from 'pg';
import type { RecordsByWorkflow } from './operation-outputs.js';

/**
 * Ends the user's transaction: inserts its output and commits, so the record commits (or not)
 * with the user's writes. Both statements travel as one simple query, one round trip instead of
 * two; its values are therefore literals, quoted by the driver's escapeLiteral. If the INSERT fails
 * (another run recorded this operation first), the COMMIT after it is not run.
 */
export async function insertTransactionOutputAndCommit(
  client: pg.ClientBase,
  workflowUUID: string,
  functionID: number,
  functionName: string,
  output: string | null,
): Promise<void> {
  const literal = (value: string | null) => (value === null ? 'NULL' : client.escapeLiteral(value));
  await client.query(
    `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
     VALUES (${literal(workflowUUID)}, ${Math.trunc(functionID)}, ${literal(functionName)}, ${literal(output)}, ${Date.now()}); COMMIT`,
  );
}

/** Adds the committed transaction outputs of these workflows to `into`, in one query. */
export async function loadTransactionOutputs(
  appPool: pg.Pool,
  workflowUUIDs: readonly string[],
  into: RecordsByWorkflow,
): Promise<void> {
  const { rows } = await appPool.query(
    `SELECT workflow_uuid, function_id, function_name, output FROM operon.transaction_outputs
     WHERE workflow_uuid = ANY($1)`,
    [workflowUUIDs],
  );
  for (const r of rows) {
    let records = into.get(r.workflow_uuid);
    if (!records) into.set(r.workflow_uuid, (records = new Map()));
    records.set(r.function_id, { functionName: r.function_name, output: r.output, error: null });
  }
}
