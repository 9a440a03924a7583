/**
 * The app database's half of a fork: the original's committed transaction outputs before the
 * fork's step, read when the fork is made and written with its workflow in the system database
 * (operon.fork_outputs, under the fork's note operon.fork_copies), then copied under the fork's
 * UUID in the app database by the executor that adopts the fork, before it runs it. What happens
 * to the original after the fork (retention deleting it, its own adoption) changes nothing.
 */
import type pg from 'pg';

export interface ForkCopy {
  readonly workflowUUID: string;
  /** Set only on a note written before forks stored their outputs: they are copied from this original then. */
  readonly sourceUUID: string | null;
  readonly fromStep: number;
}

/** A committed transaction's output as a fork takes it. */
export interface ForkOutput {
  readonly functionId: number;
  readonly functionName: string;
  readonly output: string | null;
  readonly createdAt: string;
}

/**
 * The transaction outputs of `workflowUUID` before `fromStep` that a fork of it takes. A fork
 * not yet adopted has its own still in its note, not in the app database: those are read first
 * (a note gone by then was copied before it went, so the app database has them when read next).
 */
export async function outputsToFork(systemPool: pg.Pool, appPool: pg.Pool, workflowUUID: string, fromStep: number): Promise<ForkOutput[]> {
  if (fromStep <= 0) return [];
  return (await heldOutputs(systemPool, appPool, workflowUUID, fromStep)) ?? readOutputs(appPool, workflowUUID, fromStep);
}

/**
 * The transaction outputs before `beforeStep` that a fork not yet adopted holds for its run (its
 * note's, not yet in the app database); undefined when `workflowUUID` is no such fork.
 */
export async function heldOutputs(systemPool: pg.Pool, appPool: pg.Pool, workflowUUID: string, beforeStep: number): Promise<ForkOutput[] | undefined> {
  const { rows: notes } = await systemPool.query<{ source_uuid: string | null; from_step: number; outputs: ForkOutput[] }>(
    `SELECT f.source_uuid, f.from_step, coalesce(json_agg(json_build_object('functionId', o.function_id, 'functionName', o.function_name,
       'output', o.output, 'createdAt', o.created_at::text) ORDER BY o.function_id) FILTER (WHERE o.function_id < $2), '[]') AS outputs
     FROM operon.fork_copies f LEFT JOIN operon.fork_outputs o ON o.workflow_uuid = f.workflow_uuid
     WHERE f.workflow_uuid = $1 GROUP BY f.source_uuid, f.from_step`,
    [workflowUUID, beforeStep],
  );
  const note = notes[0];
  if (note === undefined) return undefined;
  // An older note: its outputs are still its original's, before the step both take.
  return note.source_uuid === null ? note.outputs : readOutputs(appPool, note.source_uuid, Math.min(beforeStep, note.from_step));
}

/** The transaction outputs the notes of these forks not yet adopted hold, by fork, in one query. */
export async function heldOutputsOf(systemPool: pg.Pool, workflowUUIDs: readonly string[]): Promise<Map<string, ForkOutput[]>> {
  const { rows } = await systemPool.query<{ workflow_uuid: string; function_id: number; function_name: string; output: string | null; created_at: string }>(
    'SELECT workflow_uuid, function_id, function_name, output, created_at::text FROM operon.fork_outputs WHERE workflow_uuid = ANY($1::text[])',
    [workflowUUIDs],
  );
  const held = new Map<string, ForkOutput[]>();
  for (const r of rows) {
    let outputs = held.get(r.workflow_uuid);
    if (!outputs) held.set(r.workflow_uuid, (outputs = []));
    outputs.push({ functionId: r.function_id, functionName: r.function_name, output: r.output, createdAt: r.created_at });
  }
  return held;
}

async function readOutputs(appPool: pg.Pool, workflowUUID: string, beforeStep: number): Promise<ForkOutput[]> {
  const { rows } = await appPool.query<{ function_id: number; function_name: string; output: string | null; created_at: string }>(
    'SELECT function_id, function_name, output, created_at::text FROM operon.transaction_outputs WHERE workflow_uuid = $1 AND function_id < $2 ORDER BY function_id',
    [workflowUUID, beforeStep],
  );
  return rows.map((r) => ({ functionId: r.function_id, functionName: r.function_name, output: r.output, createdAt: r.created_at }));
}

/**
 * Makes the app database's outputs under each fork exactly those its note holds (a leftover under
 * that UUID is deleted), then deletes the notes. Only where the transaction fence names `owner`,
 * held for the statement: a newer adopter's copy, or its run, is never undone by a stale one, and
 * a newer fence waits for this copy to commit. Repeating it changes nothing, so an adopter cut off
 * after the copy leaves the next one nothing to get wrong.
 */
export async function copyForkedTransactions(systemPool: pg.Pool, appPool: pg.Pool, owner: string, copies: readonly ForkCopy[]): Promise<void> {
  const { rows: noted } = await systemPool.query<{ workflow_uuid: string; function_id: number; function_name: string; output: string | null; created_at: string }>(
    'SELECT workflow_uuid, function_id, function_name, output, created_at::text FROM operon.fork_outputs WHERE workflow_uuid = ANY($1::text[])',
    [copies.map((c) => c.workflowUUID)],
  );
  const { rows } = await appPool.query<{ workflow_uuid: string }>(
    `WITH fork AS (
       SELECT f.workflow_uuid, f.source_uuid, f.from_step FROM unnest($1::text[], $2::text[], $3::int[]) AS f(workflow_uuid, source_uuid, from_step)
       JOIN operon.workflow_owners o ON o.workflow_uuid = f.workflow_uuid AND o.owner = $4
       FOR SHARE OF o),
     wanted AS (
       SELECT n.workflow_uuid, n.function_id, n.function_name, n.output, n.created_at
       FROM unnest($5::text[], $6::int[], $7::text[], $8::text[], $9::bigint[]) AS n(workflow_uuid, function_id, function_name, output, created_at)
       WHERE n.workflow_uuid IN (SELECT workflow_uuid FROM fork)
       UNION ALL
       -- An older note names its original: its outputs are read from there.
       SELECT f.workflow_uuid, s.function_id, s.function_name, s.output, s.created_at
       FROM fork f JOIN operon.transaction_outputs s ON s.workflow_uuid = f.source_uuid AND s.function_id < f.from_step),
     leftover AS (
       DELETE FROM operon.transaction_outputs t USING fork f
       WHERE t.workflow_uuid = f.workflow_uuid
         AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.workflow_uuid = t.workflow_uuid AND w.function_id = t.function_id)
       RETURNING 1),
     copied AS (
       INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
       SELECT workflow_uuid, function_id, function_name, output, created_at FROM wanted
       ON CONFLICT (workflow_uuid, function_id) DO UPDATE SET function_name = EXCLUDED.function_name, output = EXCLUDED.output, created_at = EXCLUDED.created_at
       RETURNING 1)
     SELECT workflow_uuid FROM fork`,
    [
      copies.map((c) => c.workflowUUID),
      copies.map((c) => c.sourceUUID),
      copies.map((c) => c.fromStep),
      owner,
      noted.map((n) => n.workflow_uuid),
      noted.map((n) => n.function_id),
      noted.map((n) => n.function_name),
      noted.map((n) => n.output),
      noted.map((n) => n.created_at),
    ],
  );
  if (rows.length === 0) return;
  // Only forks this owner still holds: a newer adopter that read the note makes the copy itself.
  await systemPool.query(
    `DELETE FROM operon.fork_copies f USING operon.workflow_status w
     WHERE f.workflow_uuid = ANY($1::text[]) AND w.workflow_uuid = f.workflow_uuid AND w.owner = $2`,
    [rows.map((r) => r.workflow_uuid), owner],
  );
}
