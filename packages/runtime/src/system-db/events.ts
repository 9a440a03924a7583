/**
 * Workflow events (operon.workflow_events): the latest value of each key a workflow set. A
 * setEvent records its operation and upserts the value in one statement, so a re-run, which finds
 * the record taken, never rewinds a value that a later setEvent wrote.
 */
import type pg from 'pg';
import type { OperationRecord } from './operation-outputs.js';
import type { OperationSite } from './messages.js';
import { recordDeadlineCte, recordOrExisting } from './operation-deadlines.js';
import { eventWaitKey } from './notification-channel.js';
import { OWNED_STATUS, noteStatus, ownedCheck, ownedCte } from './ownership.js';

const SET_EVENT_FROM_WORKFLOW = `WITH ${ownedCte('$1', '$7')},
  recorded AS (
    INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at, detail)
    VALUES ($1, $2, $3, NULL, NULL, $6, $8, $9) ON CONFLICT (workflow_uuid, function_id) DO NOTHING
    RETURNING workflow_uuid),
  upserted AS (
    INSERT INTO operon.workflow_events (workflow_uuid, key, value, updated_at)
    SELECT $1::text, $4::text, $5::text, $6::bigint FROM recorded
    ON CONFLICT (workflow_uuid, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
    RETURNING 1)
  SELECT (SELECT count(*) FROM upserted)::int AS written, ${ownedCheck('$1')} AS owned, ${OWNED_STATUS}`;

/** A workflow's setEvent at operation `site`; `value` is JSON text. True when the value was written now. */
export async function setEventFromWorkflow(pool: pg.Pool, site: OperationSite, key: string, value: string): Promise<boolean> {
  const { rows } = await pool.query(SET_EVENT_FROM_WORKFLOW, [
    site.workflowUUID,
    site.functionID,
    site.functionName,
    key,
    value,
    Date.now(),
    site.owner,
    site.startedAt,
    JSON.stringify({ key }),
  ]);
  noteStatus(site, rows[0]);
  return rows[0]!.written === 1;
}

/** The current value (JSON text) of an event, or undefined if it was never set. */
export async function getEventValue(pool: pg.Pool, workflowUUID: string, key: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ value: string }>(
    'SELECT value FROM operon.workflow_events WHERE workflow_uuid = $1 AND key = $2',
    [workflowUUID, key],
  );
  return rows[0]?.value;
}

const READ_EVENT_INTO_RECORD = `WITH ${ownedCte('$1', '$10')}, ${recordDeadlineCte({ workflow: '$1', functionID: '$2', now: '$4', name: '$7', value: '$8', startedAt: '$11', detail: '$12' })},
  current AS (SELECT value FROM operon.workflow_events WHERE workflow_uuid = $5::text AND key = $6::text),
  recorded AS (
    INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at, started_at, detail)
    SELECT $1::text, $2::int, $3::text, coalesce((SELECT value FROM current), 'null'), NULL, $4::bigint, $11::bigint, $12::text
    WHERE $9::boolean OR EXISTS (SELECT 1 FROM current)
    RETURNING output)
  SELECT (SELECT output FROM recorded) AS output, ${ownedCheck('$1')} AS owned, ${OWNED_STATUS}`;

export interface EventReadRequest {
  /** The reading workflow and its getEvent's operation id. */
  readonly site: OperationSite;
  readonly workflowUUID: string;
  readonly key: string;
  /** The deadline to record at the id before the getEvent's (first attempt of a first run only). */
  readonly deadline: { readonly functionName: string; readonly epochMs: number } | undefined;
  /** The wait is over: record `null` if the key is not set. */
  readonly final: boolean;
}

/**
 * A workflow's getEvent, one statement: records the deadline if asked, and the event's value as
 * the getEvent's output if the key is set (or `null` once the wait is over). Returns the record,
 * or undefined when there is nothing to record yet.
 */
export async function readEventIntoRecord(pool: pg.Pool, request: EventReadRequest): Promise<OperationRecord | undefined> {
  const { site } = request;
  return recordOrExisting(pool, site, async () => {
    const { rows } = await pool.query<{ output: string; status: string | null }>(READ_EVENT_INTO_RECORD, [
      site.workflowUUID,
      site.functionID,
      site.functionName,
      Date.now(),
      request.workflowUUID,
      request.key,
      request.deadline?.functionName ?? null,
      request.deadline === undefined ? null : JSON.stringify(request.deadline.epochMs),
      request.final,
      site.owner,
      site.startedAt,
      JSON.stringify({ workflowUUID: request.workflowUUID, key: request.key }),
    ]);
    noteStatus(site, rows[0]);
    return rows[0]?.output ?? undefined;
  });
}

/** The wait keys, among these (workflow, key) pairs, whose event is set: the slow poll's query. */
export async function eventsThatAreSet(pool: pg.Pool, pairs: readonly (readonly [string, string])[]): Promise<string[]> {
  const { rows } = await pool.query<{ workflow_uuid: string; key: string }>(
    `SELECT e.workflow_uuid, e.key FROM operon.workflow_events e
     JOIN unnest($1::text[], $2::text[]) AS w(workflow_uuid, key) USING (workflow_uuid, key)`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  return rows.map((r) => eventWaitKey(r.workflow_uuid, r.key));
}
