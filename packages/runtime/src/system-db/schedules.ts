/**
 * The schedules table and the one statement that starts due ticks: the runs of any number of
 * schedules' ticks are inserted together, each under the UUID derived from its schedule and tick,
 * so that whichever executors send the same tick, one insert wins and that executor owns the run.
 */
import type pg from 'pg';

export interface ScheduleRow {
  readonly scheduleName: string;
  /** When an executor first ran the schedule (epoch ms). */
  readonly since: number;
  /** The latest tick a run was started for (epoch ms), if any. */
  readonly lastTick: number | undefined;
}

/** One tick's run, as the executor sends it. */
export interface DueTick {
  readonly scheduleName: string;
  readonly workflowUUID: string;
  readonly tick: number;
  /** The run's recorded inputs. */
  readonly inputs: string;
}

function toRow(r: { schedule_name: string; since: string; last_tick: string | null }): ScheduleRow {
  return { scheduleName: r.schedule_name, since: Number(r.since), lastTick: r.last_tick === null ? undefined : Number(r.last_tick) };
}

/** The database's clock (epoch ms) as it answered, beside what a statement returns. */
const DATABASE_NOW = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

/** The rows of `names`, created (since `now`) for those that have none yet: one statement. */
export async function registerSchedules(pool: pg.Pool, names: readonly string[], now: number): Promise<{ rows: ScheduleRow[]; databaseNowMs: number }> {
  // The final SELECT reads the table as it was before the INSERT: existing rows, plus the added ones.
  const { rows } = await pool.query(
    `WITH added AS (
       INSERT INTO operon.schedules (schedule_name, since) SELECT unnest($1::text[]), $2
       ON CONFLICT (schedule_name) DO NOTHING RETURNING schedule_name, since, last_tick)
     SELECT schedule_name, since, last_tick, ${DATABASE_NOW} AS database_now_ms FROM operon.schedules WHERE schedule_name = ANY($1::text[])
     UNION ALL SELECT schedule_name, since, last_tick, ${DATABASE_NOW} FROM added`,
    [names, now],
  );
  // Every name has a row (found or added), so there is at least one to carry the clock.
  return { rows: rows.map(toRow), databaseNowMs: Number(rows[0].database_now_ms) };
}

export async function listSchedules(pool: pg.Pool): Promise<ScheduleRow[]> {
  const { rows } = await pool.query('SELECT schedule_name, since, last_tick FROM operon.schedules ORDER BY schedule_name');
  return rows.map(toRow);
}

/**
 * Inserts the runs of `ticks` that no executor inserted yet, owned by `owner`, and moves each
 * schedule's last tick forward; one statement however many. Nothing is inserted unless `owner` is
 * a live executor (one declared dead has had its workflows adopted: new ones would be stranded).
 * Returns the UUIDs `owner` is to run: those inserted now, and those an earlier attempt of its own
 * inserted whose answer was lost (PENDING, owned by it), among `ticks` and `alsoOwned` (ticks of
 * failed attempts no longer sent), and the database's clock when it answered.
 */
export async function startDueTicks(
  pool: pg.Pool,
  owner: { readonly instanceId: string; readonly executorId: string },
  ticks: readonly DueTick[],
  now: number,
  alsoOwned: readonly string[] = [],
): Promise<{ mine: string[]; databaseNowMs: number }> {
  // Sorted by name: executors that update the same schedules then lock their rows in one order.
  const sorted = [...ticks].sort((a, b) => (a.scheduleName < b.scheduleName ? -1 : a.scheduleName > b.scheduleName ? 1 : a.tick - b.tick));
  const { rows } = await pool.query<{ mine: string[]; database_now_ms: string }>({
    name: 'operon_start_due_ticks',
    text: `WITH due AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS d(schedule_name, workflow_uuid, tick, inputs)),
       live AS (SELECT 1 FROM operon.executors WHERE instance_id = $5 AND state = 'live'),
       inserted AS (
         INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs,
           authenticated_user, authenticated_roles, assumed_role, request, parent_uuid, created_at, updated_at, owner)
         SELECT workflow_uuid, 'PENDING', schedule_name, 'workflow', $6, inputs, '', '[]', '', NULL, NULL, $7, $7, $5
         FROM due WHERE EXISTS (SELECT 1 FROM live)
         ON CONFLICT (workflow_uuid) DO NOTHING
         RETURNING workflow_uuid),
       advanced AS (
         UPDATE operon.schedules s SET last_tick = GREATEST(s.last_tick, d.tick)
         FROM (SELECT schedule_name, max(tick) AS tick FROM due GROUP BY schedule_name) d
         WHERE s.schedule_name = d.schedule_name AND (s.last_tick IS NULL OR s.last_tick < d.tick) AND EXISTS (SELECT 1 FROM live))
     SELECT array(
         SELECT workflow_uuid FROM inserted
         UNION
         SELECT workflow_uuid FROM operon.workflow_status
         WHERE (workflow_uuid = ANY($2::text[]) OR workflow_uuid = ANY($8::text[])) AND owner = $5 AND status = 'PENDING') AS mine,
       ${DATABASE_NOW} AS database_now_ms`,
    values: [
      sorted.map((t) => t.scheduleName),
      sorted.map((t) => t.workflowUUID),
      sorted.map((t) => t.tick),
      sorted.map((t) => t.inputs),
      owner.instanceId,
      owner.executorId,
      now,
      alsoOwned,
    ],
  });
  return { mine: rows[0]!.mine, databaseNowMs: Number(rows[0]!.database_now_ms) };
}
