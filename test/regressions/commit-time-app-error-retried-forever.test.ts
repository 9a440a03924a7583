/**
 * Regression: an error the app's own transaction causes but that Postgres raises only when Operon
 * ends the transaction (`INSERT output; COMMIT`) is taken for a database failure and the
 * transaction is run again, forever:
 *  - a DEFERRABLE INITIALLY DEFERRED unique constraint the transaction violates fails the COMMIT with
 *    23505, which transaction-step.ts reads as "another run recorded this operation first"; no
 *    record is found and the transaction runs again at once, in a tight loop with no backoff;
 *  - a transaction whose code caught the failure of one of its own queries (the transaction is then
 *    aborted) and returned: the output INSERT fails with 25P02, which guardDatabase marks as
 *    infrastructure, and the step retries it every <=5 s forever.
 * In both cases the workflow never ends, never sees the error, and the app's function runs over
 * and over. The app's error must reach the workflow (recorded, like any transaction error), once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

const runs = { deferred: 0, swallowed: 0 };
const caught: string[] = [];

class CommitTime {
  @Transaction()
  static async deferredDuplicate(ctx: TransactionContext): Promise<string> {
    runs.deferred++;
    await ctx.client.query("INSERT INTO deferred_keys (k) VALUES ('same'), ('same')");
    return 'inserted';
  }

  @Transaction()
  static async swallowedFailure(ctx: TransactionContext): Promise<string> {
    runs.swallowed++;
    try {
      await ctx.client.query("INSERT INTO plain_keys (k) VALUES ('same'), ('same')");
    } catch {
      return 'duplicate ignored';
    }
    return 'inserted';
  }

  @Workflow()
  static async deferred(ctx: WorkflowContext): Promise<string> {
    try {
      return await ctx.invoke(CommitTime).deferredDuplicate();
    } catch (error) {
      caught.push(`deferred: ${(error as { code?: string }).code}`);
      return 'compensated';
    }
  }

  @Workflow()
  static async swallowed(ctx: WorkflowContext): Promise<string> {
    try {
      return await ctx.invoke(CommitTime).swallowedFailure();
    } catch (error) {
      caught.push(`swallowed: ${(error as { code?: string }).code}`);
      return 'compensated';
    }
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('committime', {
    logLevel: 'fatal',
    migrations: {
      '001_keys.sql': `CREATE TABLE deferred_keys (k TEXT, CONSTRAINT deferred_unique UNIQUE (k) DEFERRABLE INITIALLY DEFERRED);
                       CREATE TABLE plain_keys (k TEXT UNIQUE);`,
    },
  });
  testRuntime = await createTestingRuntime([CommitTime], app.configPath);
});

afterAll(async () => {
  // The looping executions never end by themselves: a short stop abandons them.
  await testRuntime?.runtime.destroy({ timeoutMs: 100 });
  await testRuntime?.destroy();
  app?.remove();
});

describe('an app error Postgres raises at COMMIT', () => {
  it('a violated deferred constraint reaches the workflow once, not a tight loop of re-runs', async () => {
    const handle = await testRuntime!.invoke(CommitTime, 'deferred-1').deferred();
    const result = await within(handle.getResult(), 8_000, 'no result after 8 s');
    expect({ result, runs: runs.deferred }).toEqual({ result: 'compensated', runs: 1 });
    expect(caught).toContain('deferred: 23505');
  });

  it('a transaction the app aborted (it caught its own query failure) ends, not retried forever', async () => {
    const handle = await testRuntime!.invoke(CommitTime, 'swallowed-1').swallowed();
    const result = await within(handle.getResult(), 8_000, 'no result after 8 s');
    expect(result).not.toBe('no result after 8 s');
    expect(runs.swallowed).toBe(1);
  });
});
