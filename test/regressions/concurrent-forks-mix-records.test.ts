/**
 * Regression: two forks into one workflow UUID, made at once from two different workflows, both
 * found the UUID free and both copied their original's committed transaction outputs under it
 * (ON CONFLICT DO NOTHING) before one of them created the fork. The fork that won then returned
 * the loser's transaction outputs for the operations the loser had copied: a workflow made of two
 * others' records.
 *
 * Expected: forks into one UUID are taken in turn; the one that finds it taken is refused (409)
 * having copied nothing, and the fork returns only its own original's records.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { connectTo, startRuntime, testConfig } from '../helpers/test-databases.js';

const TOKEN = 'a-token-for-the-concurrent-forks-test';

class Ledger {
  @Transaction()
  static async entry(ctx: TransactionContext, tag: string, n: number): Promise<string> {
    const { rows } = await ctx.client.query<{ v: string }>(`SELECT $1::text || ':' || $2::text AS v`, [tag, n]);
    return rows[0]!.v;
  }

  @Workflow()
  static async book(ctx: WorkflowContext, tag: string): Promise<string[]> {
    const out: string[] = [];
    for (let n = 0; n < 3; n++) out.push(await ctx.invoke(Ledger).entry(tag, n));
    return out;
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('concurrent_forks', { management: { token: TOKEN } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Ledger], config);
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

async function fork(from: string, fromStep: number) {
  const response = await app.inject({ method: 'POST', url: `/operon/workflows/${from}/fork`, payload: { fromStep, workflowUUID: 'forked' }, headers: { authorization: `Bearer ${TOKEN}` } });
  return { from, status: response.statusCode };
}

it('two forks into one UUID at once: one is refused, and the fork has only its own original\'s records', { timeout: 30_000 }, async () => {
  expect(await runtime.client.invoke(Ledger, { workflowUUID: 'x' }).book('x').then((h) => h.getResult())).toEqual(['x:0', 'x:1', 'x:2']);
  expect(await runtime.client.invoke(Ledger, { workflowUUID: 'y' }).book('y').then((h) => h.getResult())).toEqual(['y:0', 'y:1', 'y:2']);

  // Holds the UUID in an open transaction, so both forks pass their "is it free" look before either creates it.
  const blocker = await connectTo(sysDb);
  const watcher = await connectTo(sysDb);
  const waiting = async (n: number) => {
    for (let i = 0; i < 400; i++) {
      const { rows } = await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (rows[0].n >= n) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  try {
    await blocker.query('BEGIN');
    await blocker.query(`INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, created_at, updated_at) VALUES ('forked', 'SUCCESS', 'Ledger.book', 'blocker', '[]', 0, 0)`);
    const fromX = fork('x', 1);
    await waiting(1);
    const fromY = fork('y', 3);
    await waiting(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await blocker.query('ROLLBACK');
    const answers = await Promise.all([fromX, fromY]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)!.from;
    await expect(runtime.client.retrieveWorkflow('forked').getResult()).resolves.toEqual([0, 1, 2].map((n) => `${winner}:${n}`));
  } finally {
    await blocker.end();
    await watcher.end();
  }
});
