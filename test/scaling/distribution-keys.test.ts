/**
 * The system schema against its distributed design (docs/scaling.md): on a distributed Postgres
 * (Citus) the per-workflow tables are distributed by the workflow's UUID, so every statement on
 * the hot path must name that key (one value, or an array of them) and reach only the shards it
 * names. This test runs the hot paths (W3, messaging, events, sleep, children, queues), reads what
 * the server executed (pg_stat_statements, on this file's own databases), and fails on a statement
 * over a distributed table that names no key and is not one of the few fleet-wide ones the design
 * lists.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, WorkflowQueue, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { connectTo, startRuntime } from '../helpers/test-databases.js';

const work = new WorkflowQueue('scaling_work', { concurrency: 4 });

class Hot {
  @Communicator()
  static async fetch(_ctx: CommunicatorContext, k: number): Promise<number> {
    return k;
  }
  @Transaction()
  static async write(ctx: TransactionContext, k: number): Promise<number> {
    const { rows } = await ctx.client.query<{ id: string }>('INSERT INTO scaling_rows (k) VALUES ($1) RETURNING id', [k]);
    return Number(rows[0]!.id);
  }
  @Workflow()
  static async child(_ctx: WorkflowContext, k: number): Promise<number> {
    return k * 2;
  }
  @Workflow()
  static async w3(ctx: WorkflowContext, k: number): Promise<number> {
    const a = await ctx.invoke(Hot).fetch(k);
    const id = await ctx.invoke(Hot).write(a);
    return ctx.invoke(Hot).fetch(id);
  }
  @Workflow()
  static async messaging(ctx: WorkflowContext, peer: string): Promise<unknown> {
    await ctx.setEvent('ready', true);
    await ctx.send(peer, 'hello', 'greetings');
    const got = await ctx.recv<string>('reply', 30);
    await ctx.sleep(0.01);
    const child = await (await ctx.startChildWorkflow(Hot).child(1)).getResult();
    const event = await ctx.getEvent(peer, 'ready', 1);
    return [got, child, event];
  }
  @Workflow()
  static async fanOut(ctx: WorkflowContext, n: number): Promise<number[]> {
    const handles = await Promise.all(Array.from({ length: n }, (_, i) => ctx.startChildWorkflow(Hot, { queue: work }).child(i)));
    return Promise.all(handles.map((h) => h.getResult()));
  }
  @Workflow()
  static async peer(ctx: WorkflowContext, other: string): Promise<unknown> {
    const hello = await ctx.recv<string>('greetings', 30);
    await ctx.setEvent('ready', true);
    await ctx.send(other, `re: ${hello}`, 'reply');
    return hello;
  }
}

let runtime: OperonRuntime;

beforeAll(async () => {
  runtime = await startRuntime([Hot]);
  await runtime.appPool.query('CREATE TABLE scaling_rows (id bigserial primary key, k bigint)');
});
afterAll(() => runtime?.destroy());

/** Tables distributed by a workflow's UUID (notifications by its destination's: co-located). */
const DISTRIBUTED = ['workflow_status', 'operation_outputs', 'workflow_events', 'notifications', 'message_idempotency_keys'];
/**
 * A statement names its key: one value (`= $n`), an array (`= ANY($n)`, or rows of `unnest` joined
 * on it), or inserts rows carrying it.
 */
const KEYED = /\bunnest\b[\s\S]*\bworkflow_uuid\s*=\s*\w+\.workflow_uuid\b|\b(workflow_uuid|destination_uuid)\s*(=|IN)\s*(\$\d+|ANY\s*\(|\(\s*SELECT\s+unnest)|\bINSERT\s+INTO\s+operon\.\w+\s*(AS\s+\w+\s*)?\(\s*(workflow_uuid|destination_uuid|idempotency_key)/i;
/**
 * The fleet-wide statements of the design, each touching many workflows by intent: they run once a
 * second or so per executor (or at start), not per workflow, and on Citus they run as multi-shard
 * statements (docs/scaling.md says how each is served there).
 */
const FLEET_WIDE: readonly [RegExp, string][] = [
  [/operon\.executors/i, 'heartbeat, registration and adoption: the executors table is a reference table'],
  [/operon\.dequeue|queue_name/i, 'dequeue: one call per executor per wake for all its queues'],
  [/owner\s*=\s*ANY|owner\s*=\s*\$\d+\s+AND\s+status|status\s*=\s*'PENDING'\s+AND\s+owner/i, 'recovery and adoption scans by owner, at start and on a lapsed lease'],
  [/schema_migrations|app_migrations|pg_advisory/i, 'migrations, at start'],
];

/** What the server executed on `database` so far: calls by statement. */
async function executed(database: string): Promise<Map<string, { query: string; calls: number }>> {
  const admin = await connectTo('postgres');
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const { rows } = await admin.query<{ queryid: string; query: string; calls: string }>(
      'SELECT s.queryid::text, s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1',
      [database],
    );
    return new Map(rows.map((r) => [r.queryid, { query: r.query, calls: Number(r.calls) }]));
  } finally {
    await admin.end();
  }
}

it('names the distribution key in every hot statement over a distributed table', async () => {
  const sys = runtime.config.database.system_database;
  // Start-up (migrations, registration) is behind us: only what the workloads execute counts.
  const before = await executed(sys);
  for (let i = 0; i < 5; i++) await (await runtime.client.invoke(Hot, { workflowUUID: `w3-${i}` }).w3(i)).getResult();
  const [a, b] = [await runtime.client.invoke(Hot, { workflowUUID: 'msg-a' }).messaging('msg-b'), await runtime.client.invoke(Hot, { workflowUUID: 'msg-b' }).peer('msg-a')];
  await Promise.all([a.getResult(), b.getResult()]);
  expect(await (await runtime.client.invoke(Hot, { workflowUUID: 'fan' }).fanOut(4)).getResult()).toEqual([0, 2, 4, 6]);
  await runtime.messaging.send('msg-a', 'late', 'unread', 'idem-1');
  expect(await runtime.messaging.getEvent('msg-b', 'ready', 1)).toBe(true);

  const statements = [...(await executed(sys))]
    // Another file may reset the statistics meanwhile: then a count starts again from zero.
    .map(([id, s]) => {
      const earlier = before.get(id)?.calls ?? 0;
      return { query: s.query, calls: s.calls >= earlier ? s.calls - earlier : s.calls };
    })
    .filter((s) => s.calls > 0);
  const touches = (query: string) => DISTRIBUTED.some((table) => new RegExp(`operon\\.${table}\\b`, 'i').test(query));
  const hot = statements.filter((s) => touches(s.query));
  const unkeyed = hot.filter((s) => !KEYED.test(s.query) && !FLEET_WIDE.some(([pattern]) => pattern.test(s.query)));
  console.log(`distribution keys: ${hot.length} statements over distributed tables, ${hot.length - unkeyed.length} keyed or fleet-wide`);
  expect(hot.length).toBeGreaterThan(5);
  expect(unkeyed.map((s) => `${s.calls}× ${s.query.replace(/\s+/g, ' ').slice(0, 300)}`)).toEqual([]);
});

