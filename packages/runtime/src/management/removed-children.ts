/**
 * Children a workflow's records started that are gone. Retention deletes a family only whole, so
 * a kept workflow loses no child that way; but one removed alone by a version that did not keep
 * families together (or by hand) leaves its parent's record of the start pointing at nothing.
 * The parent's detail lists such children, and a resume or fork that would read the result of
 * one is refused, naming it: its run would wait for a result that no longer exists.
 */
import type pg from 'pg';

export interface RemovedChild {
  /** The operation that started it. */
  readonly functionID: number;
  readonly workflowUUID: string;
  /** Whether the workflow recorded the child's result (before the step looked at), so a re-run replays it. */
  readonly resultRead: boolean;
}

/**
 * The removed children started by the workflow's operations before `beforeStep`. A child start
 * records the child's UUID, derived from its parent's and the operation's id (`…~c<id>`), as a
 * JSON string; a fork's copies of such records keep the original's.
 */
export async function removedChildren(pool: pg.Pool, workflowUUID: string, beforeStep = 2 ** 31 - 1): Promise<RemovedChild[]> {
  const { rows } = await pool.query<{ function_id: number; child: string; read: boolean }>(
    `SELECT o.function_id, c.uuid AS child,
       EXISTS (SELECT 1 FROM operon.operation_outputs r WHERE r.workflow_uuid = $1 AND r.function_id < $2
               AND r.function_name = 'operon.getResult(' || c.uuid || ')') AS read
     FROM operon.operation_outputs o, LATERAL (SELECT substr(o.output, 2, length(o.output) - 2) AS uuid) c
     WHERE o.workflow_uuid = $1 AND o.function_id < $2 AND o.error IS NULL AND o.output LIKE '"%~c' || o.function_id || '"'
       AND NOT EXISTS (SELECT 1 FROM operon.workflow_status w WHERE w.workflow_uuid = c.uuid)
     ORDER BY o.function_id`,
    [workflowUUID, beforeStep],
  );
  return rows.map((r) => ({ functionID: r.function_id, workflowUUID: r.child, resultRead: r.read }));
}

/**
 * The first of `workflowUUIDs` whose run would wait for a removed child's result it never
 * recorded, with why; undefined if none. One statement however many: a bulk resume checks all it
 * resumes, under their row locks.
 */
export async function firstWaitingOnRemovedChild(
  db: Pick<pg.PoolClient, 'query'>,
  workflowUUIDs: readonly string[],
): Promise<{ workflowUUID: string; why: string } | undefined> {
  if (workflowUUIDs.length === 0) return undefined;
  const { rows } = await db.query<{ workflow_uuid: string; function_id: number; child: string }>(
    `SELECT o.workflow_uuid, o.function_id, c.uuid AS child
     FROM operon.operation_outputs o, LATERAL (SELECT substr(o.output, 2, length(o.output) - 2) AS uuid) c
     WHERE o.workflow_uuid = ANY($1::text[]) AND o.error IS NULL AND o.output LIKE '"%~c' || o.function_id || '"'
       AND NOT EXISTS (SELECT 1 FROM operon.workflow_status w WHERE w.workflow_uuid = c.uuid)
       AND NOT EXISTS (SELECT 1 FROM operon.operation_outputs r WHERE r.workflow_uuid = o.workflow_uuid
                       AND r.function_name = 'operon.getResult(' || c.uuid || ')')
     ORDER BY o.workflow_uuid, o.function_id LIMIT 1`,
    [workflowUUIDs],
  );
  const row = rows[0];
  return row === undefined ? undefined : { workflowUUID: row.workflow_uuid, why: whyRemoved(row.child, row.function_id) };
}

function whyRemoved(child: string, functionID: number): string {
  return (
    `its child ${child} (started by operation ${functionID}) was deleted before the workflow recorded its result, ` +
    `so a run would wait for a result that no longer exists; fork it from step ${functionID} or earlier to run that child anew`
  );
}

/** Why a resume or fork of `workflowUUID` (from `fromStep`) cannot go on: a removed child whose result it would read; undefined if none. */
export async function unreadRemovedChild(pool: pg.Pool, workflowUUID: string, fromStep?: number): Promise<string | undefined> {
  const child = (await removedChildren(pool, workflowUUID, fromStep)).find((c) => !c.resultRead);
  return child === undefined ? undefined : whyRemoved(child.workflowUUID, child.functionID);
}
