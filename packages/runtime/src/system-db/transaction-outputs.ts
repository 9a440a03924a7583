/** The outputs of committed transactions, kept in the app database (schema `operon`). */
import type pg from 'pg';
import type { RecordsByWorkflow } from './operation-outputs.js';

/** Runs inside the user's transaction, so the record commits (or not) with the user's writes. */
export async function insertTransactionOutput(
  client: pg.ClientBase,
  workflowUUID: string,
  functionID: number,
  functionName: string,
  output: string | null,
): Promise<void> {
  await client.query({
    name: 'operon_record_transaction',
    text: `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    values: [workflowUUID, functionID, functionName, output, Date.now()],
  });
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
