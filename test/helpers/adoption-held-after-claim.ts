/**
 * An adoption stopped between its claim of a workflow and the workflow's run: a workflow that a
 * stopped executor left PENDING, for a live runtime to adopt, and a lock that holds the adoption
 * once it has claimed (its read of the app database's records waits behind it).
 */
import { connectTo, query } from './test-databases.js';

/** A stopped executor `instanceId` (executor id `gone`) that owns PENDING workflow `uuid` of `workflowName`: `adoptNow([instanceId])` claims it. */
export async function leftByStoppedExecutor(sysDb: string, instanceId: string, uuid: string, workflowName: string): Promise<void> {
  const now = Date.now();
  await query(
    sysDb,
    `INSERT INTO operon.executors (instance_id, executor_id, host, host_key, pid, session_tag, started_at, lease_ms, state)
     VALUES ($1, 'gone', 'nowhere', 'nowhere', 0, '', $2, 0, 'stopped')`,
    [instanceId, now],
  );
  await query(
    sysDb,
    `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, created_at, updated_at, owner)
     VALUES ($1, 'PENDING', $4, 'workflow', 'gone', '[]', $2, $2, $3)`,
    [uuid, now, instanceId, workflowName],
  );
}

/**
 * Runs `during` with the app database's transaction outputs locked: an adoption begun meanwhile
 * claims its workflows and waits there, before running them, until `during` has returned.
 */
export async function whileAdoptionWaitsAfterClaim(appDatabase: string, during: () => Promise<void>): Promise<void> {
  const appDb = await connectTo(appDatabase);
  try {
    await appDb.query('BEGIN');
    await appDb.query('LOCK TABLE operon.transaction_outputs IN ACCESS EXCLUSIVE MODE');
    await during();
    await appDb.query('COMMIT');
  } finally {
    await appDb.end();
  }
}
