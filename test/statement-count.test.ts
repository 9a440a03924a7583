/**
 * The round-trip budget: statements the server executes per workflow, counted by Postgres itself
 * (pg_stat_statements, which the test server preloads), app and system databases together.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
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

async function statementsPerWorkflow(name: 'w0' | 'w3', count: number): Promise<number> {
  const admin = await connectTo('postgres');
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const fn = runtime.registry.lookup(Budget, name);
    await (await runtime.executor.startWorkflow(fn, [0])).getResult(); // warm the pools
    await admin.query('SELECT pg_stat_statements_reset()');
    for (let i = 1; i <= count; i++) await (await runtime.executor.startWorkflow(fn, [i])).getResult();
    const { rows } = await admin.query<{ calls: string }>(
      `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
       WHERE d.datname = ANY($1)`,
      [[runtime.config.database.system_database, runtime.config.database.user_database]],
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
      await admin.query('SELECT pg_stat_statements_reset()');
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
