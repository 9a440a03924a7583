/**
 * Regression (found by the chaos harness: `operon start` died during a Postgres restart and on
 * pg_terminate_backend): a pool client checked out with `pool.connect()`, as every transaction's
 * client is, has no 'error' listener while it is out of the pool, and node-postgres emits 'error'
 * when its connection drops. An 'error' event with no listener throws, so a connection lost in the
 * middle of a transaction killed the whole process. Now the loss only fails that transaction's
 * statements; the workflow stays PENDING, runs again once the database answers, and completes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { connectTo, startRuntime, testConfig } from '../helpers/test-databases.js';

let backendPid: ((pid: number) => void) | undefined;
let proceed: Promise<void> = Promise.resolve();
let attempts = 0;

class Slow {
  /** Holds its checked-out client between two statements until the test lets it go on. */
  @Transaction()
  static async twoStatements(ctx: TransactionContext): Promise<number> {
    attempts++;
    const { rows } = await ctx.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    backendPid?.(rows[0]!.pid);
    await proceed;
    const { rows: second } = await ctx.client.query<{ n: number }>('SELECT 2 AS n');
    return second[0]!.n;
  }

  @Workflow()
  static async run(ctx: WorkflowContext): Promise<number> {
    return ctx.invoke(Slow).twoStatements();
  }
}

let runtime: OperonRuntime;
afterAll(() => runtime?.destroy({ timeoutMs: 1_000 }));

describe('a connection that drops while a transaction holds it', () => {
  it('fails that transaction, not the process; the workflow runs again and completes', async () => {
    // The lost connection is logged as a warning; it is expected here.
    runtime = await startRuntime([Slow], testConfig('dropped', { telemetry: { logs: { logLevel: 'error' } } }));
    let letGo!: () => void;
    proceed = new Promise((resolve) => (letGo = resolve));
    const pid = new Promise<number>((resolve) => (backendPid = resolve));
    const handle = await runtime.client.invoke(Slow, { workflowUUID: 'dropped-1' }).run();

    const admin = await connectTo('postgres');
    try {
      const { rows } = await admin.query<{ ended: boolean }>('SELECT pg_terminate_backend($1) AS ended', [await pid]);
      expect(rows[0]!.ended).toBe(true);
    } finally {
      await admin.end();
    }
    // The client learns of the loss while it is checked out and idle: the moment that used to crash.
    await new Promise((resolve) => setTimeout(resolve, 300));
    backendPid = undefined;
    letGo();

    expect(await handle.getResult()).toBe(2);
    expect(attempts).toBe(2);
    expect((await handle.getStatus())?.status).toBe('SUCCESS');
  });
});
