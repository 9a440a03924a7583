/**
 * What fencing costs a workflow, measured on the server itself: W3's writes, exactly as the
 * runtime sends them (the start's INSERT, two operation records, the transaction with its output
 * and COMMIT in one round trip, the end's UPDATE: the same 8 statements), once fenced as the
 * runtime does it and once without the fence, in alternating rounds on the same connections.
 *
 * The fenced statements are copies of the runtime's (packages/runtime/src/system-db/:
 * operation-outputs.ts with ownership.ts, transaction-outputs.ts, workflow-status.ts); the
 * unfenced ones are the same statements without the owner check: no `owned` CTE locking the
 * workflow's row, no upsert of the app database's owner row, no owner predicate on the end. The
 * fence adds no statement and no round trip; what it adds is work inside them (an index lookup and
 * a row lock per record, one more row written per workflow in the app database), and that is
 * what the difference in throughput shows. Keep these in step with the runtime's statements.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { ServerAddress } from './bench-server.js';
import { INSERT_ROW } from './workloads.js';
import { median, round } from './stats.js';

export interface FenceCost {
  readonly concurrency: number;
  readonly fencedWfPerSec: number;
  readonly unfencedWfPerSec: number;
  /** How much slower the fenced writes are, in percent of the unfenced throughput (negative: faster). */
  readonly costPercent: number;
  /** Extra time per workflow on one connection, in microseconds (at concurrency 1 this is latency). */
  readonly usPerWorkflow: number;
}

const OWNER = 'bench-fence-cost-owner';

const INSERT_WORKFLOW = `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs,
       authenticated_user, authenticated_roles, assumed_role, request, parent_uuid, created_at, updated_at, owner)
     VALUES ($1, 'PENDING', $2, $11, $3, $4, $5, $6, $7, $8, $9, $10, $10, $12)
     ON CONFLICT (workflow_uuid) DO NOTHING`;

const RECORD_FENCED = `WITH owned AS (SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1::text AND owner = $7::text FOR SHARE),
       inserted AS (
         INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM inserted) AS inserted, CASE WHEN EXISTS (SELECT 1 FROM owned) THEN true ELSE operon.fenced($1::text) END AS owned`;

const RECORD_UNFENCED = `WITH inserted AS (
         INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workflow_uuid, function_id) DO NOTHING RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM inserted) AS inserted, $7::text IS NOT NULL AS owned`;

const END_FENCED = `UPDATE operon.workflow_status AS w SET status = e.status, output = e.output, error = e.error, updated_at = $6
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS e(workflow_uuid, status, output, error, owner)
     WHERE w.workflow_uuid = e.workflow_uuid AND w.status = 'PENDING' AND w.owner = e.owner
     RETURNING w.workflow_uuid`;

const END_UNFENCED = `UPDATE operon.workflow_status AS w SET status = e.status, output = e.output, error = e.error, updated_at = $6
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS e(workflow_uuid, status, output, error, owner)
     WHERE w.workflow_uuid = e.workflow_uuid AND w.status = 'PENDING'
     RETURNING w.workflow_uuid`;

function transactionEnd(client: pg.ClientBase, fenced: boolean, uuid: string, output: string): string {
  const u = client.escapeLiteral(uuid);
  const values = `${u}, 2, 'BenchOps.insertRow', ${client.escapeLiteral(output)}, ${Date.now()}`;
  if (!fenced) return `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at) VALUES (${values}); COMMIT`;
  return `WITH fence AS (
       INSERT INTO operon.workflow_owners AS o (workflow_uuid, owner, epoch) VALUES (${u}, ${client.escapeLiteral(OWNER)}, 0)
       ON CONFLICT (workflow_uuid) DO UPDATE SET owner = EXCLUDED.owner WHERE o.owner = EXCLUDED.owner
       RETURNING 1)
     INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
     SELECT ${values}
     WHERE CASE WHEN EXISTS (SELECT 1 FROM fence) THEN true ELSE operon.fenced(${u}) END; COMMIT`;
}

/** One workflow's writes, W3's shape. */
async function workflowWrites(system: pg.Pool, app: pg.Pool, fenced: boolean, input: number): Promise<void> {
  const uuid = randomUUID();
  const now = Date.now();
  const tag = fenced ? 'fenced' : 'unfenced';
  await system.query({ name: 'fence_cost_insert', text: INSERT_WORKFLOW, values: [uuid, `BenchOps.w3-${tag}`, 'bench-fence-cost', `[${input}]`, '', '[]', '', null, null, now, 'workflow', OWNER] });
  const record = fenced ? RECORD_FENCED : RECORD_UNFENCED;
  const name = `fence_cost_record_${tag}`;
  await system.query({ name, text: record, values: [uuid, 1, 'BenchOps.stepA', `{"step":"A","input":${input}}`, null, now, OWNER] });
  const client = await app.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    const { rows } = await client.query<{ id: string }>(INSERT_ROW, [input]);
    await client.query(transactionEnd(client, fenced, uuid, JSON.stringify(rows[0]!.id)));
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  await system.query({ name, text: record, values: [uuid, 3, 'BenchOps.stepB', `{"step":"B","input":${input}}`, null, now, OWNER] });
  await system.query({
    name: `fence_cost_end_${tag}`,
    text: fenced ? END_FENCED : END_UNFENCED,
    values: [[uuid], ['SUCCESS'], ['[]'], [null], [OWNER], Date.now()],
  });
}

/** Workflows per second over `ms`, `concurrency` loops. */
async function timedRound(system: pg.Pool, app: pg.Pool, fenced: boolean, concurrency: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      for (let i = 0; performance.now() < end; i++) {
        await workflowWrites(system, app, fenced, loop * 1_000_000 + i);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

export async function measureFenceCost(
  address: ServerAddress,
  databases: { readonly app: string; readonly system: string },
  concurrency: number,
  /** Per round; rounds alternate fenced and unfenced, `rounds` of each, medians compared. */
  roundMs: number,
  rounds: number,
): Promise<FenceCost> {
  const pool = (database: string) =>
    new pg.Pool({ host: address.host, port: address.port, user: address.user, password: address.password, database, max: concurrency });
  const system = pool(databases.system);
  const app = pool(databases.app);
  try {
    // Connections open and statements prepared before anything is timed.
    await timedRound(system, app, true, concurrency, Math.min(300, roundMs));
    await timedRound(system, app, false, concurrency, Math.min(300, roundMs));
    const fenced: number[] = [];
    const unfenced: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternating which goes first, so drift on a shared machine hits both alike.
      const order = r % 2 === 0 ? [true, false] : [false, true];
      for (const f of order) (f ? fenced : unfenced).push(await timedRound(system, app, f, concurrency, roundMs));
    }
    const f = median(fenced);
    const u = median(unfenced);
    return {
      concurrency,
      fencedWfPerSec: round(f, 1),
      unfencedWfPerSec: round(u, 1),
      costPercent: round((100 * (u - f)) / u, 1),
      usPerWorkflow: round(((1 / f - 1 / u) * 1e6 * concurrency), 0),
    };
  } finally {
    await Promise.all([system.end(), app.end()]);
  }
}
