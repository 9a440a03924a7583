/**
 * The app database's half of a fork: the original's committed transaction outputs before the
 * fork's step, copied under the fork's UUID by the executor that adopts the fork, before it runs
 * it (the fork itself wrote a note of them, operon.fork_copies, with its workflow).
 */
import type pg from 'pg';

export interface ForkCopy {
  readonly workflowUUID: string;
  readonly sourceUUID: string;
  readonly fromStep: number;
}

/**
 * Makes the app database's outputs under each fork exactly its original's before its step (a
 * leftover under that UUID is deleted), then deletes the notes. Only where the transaction fence
 * names `owner`, held for the statement: a newer adopter's copy, or its run, is never undone by a
 * stale one, and a newer fence waits for this copy to commit. Repeating it changes nothing, so an
 * adopter cut off after the copy leaves the next one nothing to get wrong.
 */
export async function copyForkedTransactions(systemPool: pg.Pool, appPool: pg.Pool, owner: string, copies: readonly ForkCopy[]): Promise<void> {
  const { rows } = await appPool.query<{ workflow_uuid: string }>(
    `WITH fork AS (
       SELECT f.workflow_uuid, f.source_uuid, f.from_step FROM unnest($1::text[], $2::text[], $3::int[]) AS f(workflow_uuid, source_uuid, from_step)
       JOIN operon.workflow_owners o ON o.workflow_uuid = f.workflow_uuid AND o.owner = $4
       FOR SHARE OF o),
     leftover AS (
       DELETE FROM operon.transaction_outputs t USING fork f
       WHERE t.workflow_uuid = f.workflow_uuid
         AND NOT (t.function_id < f.from_step AND EXISTS (
           SELECT 1 FROM operon.transaction_outputs s WHERE s.workflow_uuid = f.source_uuid AND s.function_id = t.function_id))
       RETURNING 1),
     copied AS (
       INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
       SELECT f.workflow_uuid, s.function_id, s.function_name, s.output, s.created_at
       FROM fork f JOIN operon.transaction_outputs s ON s.workflow_uuid = f.source_uuid AND s.function_id < f.from_step
       ON CONFLICT (workflow_uuid, function_id) DO UPDATE SET function_name = EXCLUDED.function_name, output = EXCLUDED.output, created_at = EXCLUDED.created_at
       RETURNING 1)
     SELECT workflow_uuid FROM fork`,
    [copies.map((c) => c.workflowUUID), copies.map((c) => c.sourceUUID), copies.map((c) => c.fromStep), owner],
  );
  if (rows.length === 0) return;
  // Only forks this owner still holds: a newer adopter that read the note makes the copy itself.
  await systemPool.query(
    `DELETE FROM operon.fork_copies f USING operon.workflow_status w
     WHERE f.workflow_uuid = ANY($1::text[]) AND w.workflow_uuid = f.workflow_uuid AND w.owner = $2`,
    [rows.map((r) => r.workflow_uuid), owner],
  );
}
