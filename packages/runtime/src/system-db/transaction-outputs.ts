/** The outputs of committed transactions, kept in the app database (schema `operon`). */
import type pg from 'pg';
import type { RecordsByWorkflow } from './operation-outputs.js';

/**
 * Ends the user's transaction: inserts its output and commits, so the record commits (or not)
 * with the user's writes. Fenced: the statement first claims the workflow's owner row for `owner`
 * (locking it, so an adopter's rewrite waits for this commit), and raises OP001 when another
 * executor owns the workflow, so a transaction of a fenced process never commits. A row a cancel
 * made (owner '': no transaction had committed) is taken over. Both statements travel as one
 * simple query, one round trip; its values are therefore literals, quoted by the driver's
 * escapeLiteral. If the INSERT fails (another run recorded this operation first, or the writer was
 * fenced), the COMMIT after it is not run. Resolves true when a cancel marked the workflow's row:
 * the row's latest version, read under its lock, so a mark committed before this commit is seen.
 */
export async function insertTransactionOutputAndCommit(
  client: pg.ClientBase,
  owner: { readonly instance: string; readonly epoch: number },
  workflowUUID: string,
  functionID: number,
  functionName: string,
  output: string | null,
  startedAt: number,
): Promise<boolean> {
  const literal = (value: string | null) => (value === null ? 'NULL' : client.escapeLiteral(value));
  const uuid = literal(workflowUUID);
  const results = (await client.query(
    `WITH fence AS (
       INSERT INTO operon.workflow_owners AS o (workflow_uuid, owner, epoch) VALUES (${uuid}, ${literal(owner.instance)}, ${Math.trunc(owner.epoch)})
       ON CONFLICT (workflow_uuid) DO UPDATE SET owner = EXCLUDED.owner, epoch = CASE WHEN o.owner = '' THEN EXCLUDED.epoch ELSE o.epoch END
       WHERE o.owner = EXCLUDED.owner OR o.owner = ''
       RETURNING o.cancelled)
     INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at, started_at)
     SELECT ${uuid}, ${Math.trunc(functionID)}, ${literal(functionName)}, ${literal(output)}, ${Date.now()}, ${Math.trunc(startedAt)}
     WHERE CASE WHEN EXISTS (SELECT 1 FROM fence) THEN true ELSE operon.fenced(${uuid}) END
     RETURNING (SELECT cancelled FROM fence) AS cancelled; COMMIT`,
  )) as unknown as pg.QueryResult<{ cancelled: boolean }>[];
  return results[0]?.rows[0]?.cancelled === true;
}

/**
 * Marks cancelled workflows in their fence rows (a row with no owner for one that has none yet),
 * so their transactions' commits say so. Rows are taken in UUID order, as an adoption's fence
 * takes them, so the two never deadlock.
 */
export async function markCancelled(appPool: pg.Pool | pg.ClientBase, workflowUUIDs: readonly string[]): Promise<void> {
  await appPool.query(
    `INSERT INTO operon.workflow_owners AS o (workflow_uuid, owner, epoch, cancelled)
     SELECT u, '', -1, true FROM unnest($1::text[]) AS u ORDER BY u
     ON CONFLICT (workflow_uuid) DO UPDATE SET cancelled = true`,
    [workflowUUIDs],
  );
}

/** Clears the cancel's mark of resumed workflows. */
export async function clearCancelled(appPool: pg.Pool | pg.ClientBase, workflowUUIDs: readonly string[]): Promise<void> {
  await appPool.query(`UPDATE operon.workflow_owners SET cancelled = false WHERE workflow_uuid = ANY($1::text[]) AND cancelled`, [workflowUUIDs]);
}

/**
 * For a move to other code: gives the workflow's fence row to `holder` (the instance holding it
 * for adoption, which runs nothing), so no transaction of an earlier run (a paused process that
 * wakes) commits from now on, then counts its committed transaction outputs. The fence waits for
 * a transaction of it that is committing (that holds the row), so the count, read after, sees it.
 * The row keeps its epoch: the adopter's fence, at a newer one, takes it over.
 */
export async function fenceForMove(app: pg.Pool | pg.ClientBase, workflowUUID: string, holder: string): Promise<number> {
  await app.query(
    `INSERT INTO operon.workflow_owners AS o (workflow_uuid, owner, epoch) VALUES ($1, $2, -1)
     ON CONFLICT (workflow_uuid) DO UPDATE SET owner = EXCLUDED.owner`,
    [workflowUUID, holder],
  );
  // A statement of its own: its snapshot is taken after the fence's wait.
  const { rows } = await app.query<{ n: number }>('SELECT count(*)::int AS n FROM operon.transaction_outputs WHERE workflow_uuid = $1', [workflowUUID]);
  return rows[0]!.n;
}

/**
 * Makes `owner` the owner of these workflows in the app database (an adoption), before it runs
 * any of them: from then on no transaction of their previous owner can commit.
 */
export async function fenceTransactions(
  appPool: pg.Pool,
  owner: string,
  claimed: readonly { readonly workflowUUID: string; readonly epoch: number }[],
): Promise<void> {
  // Only forward: a stale adopter's fence, landing late, never takes a workflow back from a newer owner.
  await appPool.query(
    `INSERT INTO operon.workflow_owners AS o (workflow_uuid, owner, epoch) SELECT u, $2, e FROM unnest($1::text[], $3::int[]) AS c(u, e) ORDER BY u
     ON CONFLICT (workflow_uuid) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch WHERE o.epoch < EXCLUDED.epoch`,
    [claimed.map((c) => c.workflowUUID), owner, claimed.map((c) => c.epoch)],
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
