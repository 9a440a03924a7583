/**
 * Deleting ended workflows past the retention period, one small batch per statement. A sweep
 * walks the table once in primary-key order (keyset: each batch starts where the last one
 * stopped), so it needs no index of its own, costs nothing on the hot path, and never reads the
 * same rows twice, however many it deletes.
 *
 * A workflow goes with its family: its root (a workflow with no parent, or whose parent is gone)
 * and every child below it are deleted together, once every one of them has ended and is past
 * the period, and not before. So a kept parent never points at a child that is gone (its resume,
 * fork, detail and later getResult read it), and a running child never loses its parent. A
 * family is looked at once per sweep, when its root is scanned (the children walked from there
 * through the parent index); a scanned child is passed over.
 *
 * A family is also kept while a fork of any of its members (from a step after 0; or a fork of
 * such a fork) has not ended and aged past the period: the fork's copies of the original's child
 * starts point at the original's children, whose results it may still read (operon.fork_sources).
 *
 * A batch locks only rows nobody else holds (SKIP LOCKED: an operator's resume or another
 * executor's sweep is never waited for); a family with a member it could not lock, or that is
 * no longer ended as locked, is left whole for the next sweep. It deletes the families with
 * everything recorded for them in the system database in the same statement, so a workflow is
 * never left half deleted there, nor a family partly; the same statement notes them as leftovers
 * whose app-database records are still to delete, done right after and noted done.
 */
import type pg from 'pg';

/** The statuses a workflow never leaves by itself. */
export const ENDED_STATUSES = ['SUCCESS', 'ERROR', 'CANCELLED', 'RETRIES_EXCEEDED'] as const;

export interface RetentionBatch {
  /** The UUIDs deleted. */
  readonly deleted: string[];
  /** Where the next batch starts; undefined once the whole table was walked. */
  readonly lastUUID: string | undefined;
}

/**
 * Looks at the next `limit` workflows after `afterUUID` and deletes the families rooted there
 * whose every member ended, created and last changed before `beforeMs`, with their operation
 * records, events and the messages and idempotency keys addressed to them.
 */
export async function deleteEndedWorkflows(pool: pg.Pool, beforeMs: number, afterUUID: string, limit: number): Promise<RetentionBatch> {
  const { rows } = await pool.query<{ last_uuid: string | null; deleted: string[] }>({
    name: 'operon_retention_delete_families',
    // Every step reads by index, however large the tables: a parent by its key and children
    // through the parent index, one probe per row (LIMIT and OFFSET 0 keep each a probe), and the
    // rows to lock and delete by an array of keys. Joined to the CTEs instead, whose sizes the
    // planner cannot tell, they were read by hashing whole tables at every batch.
    text: `WITH RECURSIVE scanned AS (
             SELECT workflow_uuid, parent_uuid, status, created_at, updated_at FROM operon.workflow_status
             WHERE workflow_uuid > $3 ORDER BY workflow_uuid LIMIT $4
           ), family (root, workflow_uuid, ripe) AS (
             SELECT s.workflow_uuid, s.workflow_uuid, s.status = ANY($1::text[]) AND s.created_at < $2 AND s.updated_at < $2
               AND NOT EXISTS (SELECT 1 FROM operon.fork_sources fs JOIN operon.workflow_status fw ON fw.workflow_uuid = fs.fork_uuid
               WHERE fs.source_uuid = s.workflow_uuid AND NOT (fw.status = ANY($1::text[]) AND fw.created_at < $2 AND fw.updated_at < $2))
             FROM scanned s LEFT JOIN LATERAL (SELECT 1 AS present FROM operon.workflow_status p WHERE p.workflow_uuid = s.parent_uuid LIMIT 1) p ON true
             WHERE s.parent_uuid IS NULL OR p.present IS NULL
             UNION ALL
             SELECT f.root, c.workflow_uuid, c.ripe FROM family f CROSS JOIN LATERAL (
               SELECT c.workflow_uuid, c.status = ANY($1::text[]) AND c.created_at < $2 AND c.updated_at < $2
                 AND NOT EXISTS (SELECT 1 FROM operon.fork_sources fs JOIN operon.workflow_status fw ON fw.workflow_uuid = fs.fork_uuid
               WHERE fs.source_uuid = c.workflow_uuid AND NOT (fw.status = ANY($1::text[]) AND fw.created_at < $2 AND fw.updated_at < $2)) AS ripe
               FROM operon.workflow_status c WHERE c.parent_uuid = f.workflow_uuid OFFSET 0) c
           ), ripe AS (
             SELECT root FROM family GROUP BY root HAVING bool_and(ripe)
           ), locked AS (
             -- Checked again on each row as locked: one resumed since the scan is no longer ended.
             SELECT w.workflow_uuid FROM operon.workflow_status w
             WHERE w.workflow_uuid = ANY (ARRAY(SELECT f.workflow_uuid FROM family f JOIN ripe USING (root)))
               AND w.status = ANY($1::text[]) AND w.created_at < $2 AND w.updated_at < $2
             FOR UPDATE OF w SKIP LOCKED
           ), doomed AS (
             -- Whole families only: one with a member skipped or changed stays for the next sweep.
             SELECT array(
               SELECT f.workflow_uuid FROM family f JOIN (
                 SELECT f.root FROM family f JOIN ripe USING (root) LEFT JOIN locked l USING (workflow_uuid)
                 GROUP BY f.root HAVING bool_and(l.workflow_uuid IS NOT NULL)
               ) whole USING (root)) AS uuids
           ), outputs AS (
             DELETE FROM operon.operation_outputs WHERE workflow_uuid = ANY ((SELECT uuids FROM doomed)::text[])
           ), events AS (
             DELETE FROM operon.workflow_events WHERE workflow_uuid = ANY ((SELECT uuids FROM doomed)::text[])
           ), messages AS (
             DELETE FROM operon.notifications WHERE destination_uuid = ANY ((SELECT uuids FROM doomed)::text[])
           ), keys AS (
             DELETE FROM operon.message_idempotency_keys WHERE destination_uuid = ANY ((SELECT uuids FROM doomed)::text[])
           ), forks AS (
             DELETE FROM operon.fork_sources WHERE fork_uuid = ANY ((SELECT uuids FROM doomed)::text[]) OR source_uuid = ANY ((SELECT uuids FROM doomed)::text[])
           ), gone AS (
             DELETE FROM operon.workflow_status WHERE workflow_uuid = ANY ((SELECT uuids FROM doomed)::text[]) RETURNING workflow_uuid
           ), leftovers AS (
             -- Their app-database records are still to delete: noted in this statement, so a lost answer loses nothing.
             INSERT INTO operon.retention_leftovers (workflow_uuid) SELECT workflow_uuid FROM gone ON CONFLICT DO NOTHING
           )
           SELECT (SELECT max(workflow_uuid) FROM scanned) AS last_uuid, array(SELECT workflow_uuid FROM gone) AS deleted`,
    values: [ENDED_STATUSES, beforeMs, afterUUID, limit],
  });
  const row = rows[0]!;
  return { deleted: row.deleted, lastUUID: row.last_uuid ?? undefined };
}

/**
 * Up to `limit` deleted workflows whose app-database records are still to delete (left by a sweep
 * cut off after its statement), and whether a workflow exists under that UUID again.
 */
export async function retentionLeftovers(pool: pg.Pool, limit: number): Promise<{ workflowUUID: string; reused: boolean }[]> {
  const { rows } = await pool.query<{ workflow_uuid: string; reused: boolean }>(
    `SELECT l.workflow_uuid, EXISTS (SELECT 1 FROM operon.workflow_status w WHERE w.workflow_uuid = l.workflow_uuid) AS reused
     FROM operon.retention_leftovers l ORDER BY l.workflow_uuid LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ workflowUUID: r.workflow_uuid, reused: r.reused }));
}

/** Their app-database records are gone: they are no longer leftovers. */
export async function forgetRetentionLeftovers(pool: pg.Pool, workflowUUIDs: readonly string[]): Promise<void> {
  if (workflowUUIDs.length === 0) return;
  await pool.query({
    name: 'operon_retention_forget_leftovers',
    text: 'DELETE FROM operon.retention_leftovers WHERE workflow_uuid = ANY($1::text[])',
    values: [workflowUUIDs],
  });
}

/** The app database's records of deleted workflows: their transactions' outputs and fences. */
export async function deleteTransactionRecords(pool: pg.Pool, workflowUUIDs: readonly string[]): Promise<void> {
  if (workflowUUIDs.length === 0) return;
  await pool.query({
    name: 'operon_retention_delete_app',
    text: `WITH outputs AS (DELETE FROM operon.transaction_outputs WHERE workflow_uuid = ANY($1::text[]))
           DELETE FROM operon.workflow_owners WHERE workflow_uuid = ANY($1::text[])`,
    values: [workflowUUIDs],
  });
}
