/**
 * The round-trip budget: statements the server executes per workflow, counted by Postgres itself
 * (pg_stat_statements, which the test server preloads), app and system databases together.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Communicator, Transaction, Workflow, WorkflowQueue, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { connectTo, startRuntime } from './helpers/test-databases.js';

class Budget {
  @Communicator()
  static async stepA(_ctx: CommunicatorContext, k: number): Promise<{ k: number }> {
    return { k };
  }
  @Transaction()
  static async insertRow(ctx: TransactionContext, k: number): Promise<number> {
    const { rows } = await ctx.client.query<{ id: string }>("INSERT INTO app_rows(k, v) VALUES ($1, 'v') RETURNING id", [k]);
    return Number(rows[0]!.id);
  }
  @Communicator()
  static async stepB(_ctx: CommunicatorContext, id: number): Promise<number> {
    return id;
  }
  @Workflow()
  static async w0(_ctx: WorkflowContext, k: number): Promise<number> {
    return k;
  }
  @Workflow()
  static async w3(ctx: WorkflowContext, k: number): Promise<unknown[]> {
    const a = await ctx.invoke(Budget).stepA(k);
    const id = await ctx.invoke(Budget).insertRow(k);
    const b = await ctx.invoke(Budget).stepB(id);
    return [a, id, b];
  }
}

const server = inject('postgres');
let runtime: OperonRuntime;

beforeAll(async () => {
  runtime = await startRuntime([Budget]);
  await runtime.appPool.query('CREATE TABLE app_rows (id bigserial primary key, k bigint, v text)');
});
afterAll(() => runtime?.destroy());

/** What the runtime sends on its own, on timers: queue polls, heartbeats and adoption scans. */
const BACKGROUND_STATEMENTS = ['%operon.dequeue(%', '%operon.executors%'];

/**
 * Clears the statistics of this runtime's two databases only: a global reset would wipe the counts
 * other test files, running at the same time, are taking.
 */
async function resetStatements(admin: { query: (text: string, values: unknown[]) => Promise<unknown> }, rt: OperonRuntime): Promise<void> {
  await admin.query('SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database WHERE datname = ANY($1)', [
    [rt.config.database.system_database, rt.config.database.user_database],
  ]);
}

async function statementsPerWorkflow(name: 'w0' | 'w3', count: number): Promise<number> {
  const admin = await connectTo('postgres');
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const fn = runtime.registry.lookup(Budget, name);
    await (await runtime.executor.startWorkflow(fn, [0])).getResult(); // warm the pools
    await resetStatements(admin, runtime);
    for (let i = 1; i <= count; i++) await (await runtime.executor.startWorkflow(fn, [i])).getResult();
    // Only the workflows' own statements: a queue poll or a heartbeat landing in the window is the
    // runtime's background, whatever the machine's speed, and is left out by its text.
    const { rows } = await admin.query<{ calls: string }>(
      `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
       WHERE d.datname = ANY($1) AND s.toplevel AND NOT (s.query LIKE ANY($2))`,
      [[runtime.config.database.system_database, runtime.config.database.user_database], BACKGROUND_STATEMENTS],
    );
    return Number(rows[0]!.calls) / count;
  } finally {
    await admin.end();
  }
}

describe.runIf(server.statementStats)('statements per workflow', () => {
  it('spends at most 10 statements on a workflow of two communicators and a transaction', async () => {
    const w0 = await statementsPerWorkflow('w0', 20);
    const w3 = await statementsPerWorkflow('w3', 20);
    console.log(`statements per workflow: W0 ${w0}, W3 ${w3}`);
    expect(w0).toBe(2); // start INSERT, end UPDATE
    expect(w3).toBeLessThanOrEqual(10);
    expect(w3).toBe(8); // + step A, BEGIN, the user's INSERT, the output INSERT, COMMIT, step B
  });

  it('ends concurrent workflows with shared statements', async () => {
    const admin = await connectTo('postgres');
    try {
      const fn = runtime.registry.lookup(Budget, 'w0');
      await resetStatements(admin, runtime);
      await Promise.all(Array.from({ length: 50 }, async (_, i) => (await runtime.executor.startWorkflow(fn, [i])).getResult()));
      const { rows } = await admin.query<{ calls: string }>(
        `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = $1 AND query LIKE 'UPDATE operon.workflow_status AS w SET status%'`,
        [runtime.config.database.system_database],
      );
      const ends = Number(rows[0]!.calls);
      console.log(`50 concurrent workflows ended in ${ends} statements`);
      expect(ends).toBeGreaterThanOrEqual(1);
      expect(ends).toBeLessThan(50);
    } finally {
      await admin.end();
    }
  });
});

/**
 * Statements clients sent to the system database of `rt` since the last reset (top level: what a
 * plpgsql function runs inside is part of its one round trip), by a LIKE pattern on their text.
 */
async function systemStatements(admin: import('pg').Client, rt: OperonRuntime, pattern = '%'): Promise<number> {
  const { rows } = await admin.query<{ calls: string }>(
    `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = $1 AND query LIKE $2 AND s.toplevel`,
    [rt.config.database.system_database, pattern],
  );
  return Number(rows[0]!.calls);
}

// Last: queues made here are served by every runtime of this process, so the runtime above goes first.
describe.runIf(server.statementStats)('statements per dequeue', () => {
  let queued: OperonRuntime;
  let limited: WorkflowQueue;
  beforeAll(async () => {
    await runtime.destroy();
    // One queue with every limit, and nineteen idle ones.
    limited = new WorkflowQueue('budget-limited', {
      concurrency: 4,
      workerConcurrency: 2,
      rateLimit: { limitPerPeriod: 1_000, periodSec: 1 },
      partitionConcurrency: 1,
    });
    for (let i = 0; i < 19; i++) new WorkflowQueue(`budget-idle-${i}`, { concurrency: 5 });
    queued = await startRuntime([Budget]);
  });
  afterAll(() => queued?.destroy());

  it('takes work from all 20 queues in one statement, whatever limits are set, and an idle process sends about one a second', async () => {
    const admin = await connectTo('postgres');
    try {
      const fn = queued.registry.lookup(Budget, 'w0');
      const enqueue = (i: number) => queued.executor.enqueueWorkflow(fn, [i], { queue: { queue: limited, partitionKey: `p${i % 3}` } });
      await (await enqueue(0)).getResult(); // warm the pools
      await resetStatements(admin, queued);
      const before = queued.executor.queues.dequeueCount;
      const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => enqueue(i + 1)));
      await Promise.all(handles.map((h) => h.getResult()));
      const dequeues = queued.executor.queues.dequeueCount - before;
      const dequeueStatements = await systemStatements(admin, queued, '%operon.dequeue%');
      console.log(`20 queued workflows: ${dequeues} dequeue calls, ${dequeueStatements} dequeue statements`);
      // Each dequeue call is one statement on the server: the limits are checked inside it. (A
      // poll already on its way when the window opened reaches the server inside it: one more.)
      expect(dequeueStatements).toBeGreaterThanOrEqual(dequeues);
      expect(dequeueStatements).toBeLessThanOrEqual(dequeues + 1);

      await new Promise((resolve) => setTimeout(resolve, 500));
      await resetStatements(admin, queued);
      const idleFrom = queued.executor.queues.dequeueCount;
      const idleMs = 4_000;
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      const idleDequeues = queued.executor.queues.dequeueCount - idleFrom;
      const idleStatements = await systemStatements(admin, queued);
      // The dequeue reads operon.executors too (it takes nothing for a dead instance): not a heartbeat.
      const heartbeats = (await systemStatements(admin, queued, '%operon.executors%')) - (await systemStatements(admin, queued, '%operon.dequeue%'));
      console.log(`idle with 20 queues for ${idleMs} ms: ${idleStatements} statements (${idleDequeues} dequeues, ${heartbeats} heartbeats)`);
      expect(idleDequeues).toBeLessThanOrEqual(Math.ceil(idleMs / 900));
      // Nothing but the dequeue poll and the heartbeat.
      expect(idleStatements - heartbeats).toBe(idleDequeues);
    } finally {
      await admin.end();
    }
  });
});
