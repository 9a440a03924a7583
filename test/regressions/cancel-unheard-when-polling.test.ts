/**
 * Regression: a cancel reaches the executor running the workflow only by NOTIFY (the cancel's own
 * statement sends it, and the listener calls the executor's onCancelled). With
 * `database.notifications: poll` (the default behind a transaction pooler) nothing listens, and
 * the poll looked only at waited-for messages and events: a cancelled workflow sleeping or waiting
 * in recv kept running here (its caller waiting, its queue slot held) until its wait ended.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { OperonWorkflowCancelledError, Workflow, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, type OperonRuntime } from '@operon/runtime';
import { createPool } from '../../packages/runtime/src/database/pools.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Sleeper {
  @Workflow()
  static async nap(ctx: WorkflowContext): Promise<string> {
    await ctx.sleep(120);
    return 'woke';
  }
}

const runtimes: OperonRuntime[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.destroy({ timeoutMs: 1000 })));
});

describe('a cancel with notifications: poll', () => {
  it('stops the sleeping workflow here within a few poll intervals', async () => {
    const config = testConfig('cancelpoll', { database: { notifications: 'poll', pollIntervalMs: 100 } });
    const runtime = await startRuntime([Sleeper], config);
    runtimes.push(runtime);
    const handle = await runtime.client.invoke(Sleeper, { workflowUUID: 'cancel-polled-1' }).nap();
    const db = config.database;
    // Another process's cancel (the management API or CLI): a statement on the system database.
    const pool = createPool(
      { host: db.hostname, port: db.port, user: db.username, password: db.password, ssl: 'disable', connectionTimeoutMillis: 5_000, pooler: db.pooler },
      db.system_database,
      1,
    );
    try {
      // Once the sleep is recorded the workflow is waiting.
      for (let i = 0; i < 200; i++) {
        const { rows } = await pool.query('SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1', ['cancel-polled-1']);
        if (rows.length) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(await cancelWorkflows(pool, { workflowUUID: 'cancel-polled-1' }, { actor: 'test' })).toMatchObject({ changed: 1 });
    } finally {
      await pool.end();
    }
    const outcome = await Promise.race([
      handle.getResult().then(
        () => 'finished',
        (error: unknown) => (error instanceof OperonWorkflowCancelledError ? 'cancelled' : String(error)),
      ),
      new Promise((resolve) => setTimeout(() => resolve('still running 5 s after the cancel'), 5_000).unref()),
    ]);
    expect(outcome).toBe('cancelled');
  });
});
