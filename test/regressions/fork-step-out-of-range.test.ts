/**
 * Regression: a fork's `fromStep` was checked to be a safe integer ≥ 0, but operation ids are
 * Postgres integers: a fromStep of 2^31 or more reached the database and failed there (a 500, no
 * word of what was wrong), after the fork had read and checked the original.
 *
 * Expected: such a fromStep is a 400 naming fromStep, as a negative one is, and nothing is made.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { authorizedPost, type HttpServer } from '../helpers/management-requests.js';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const TOKEN = 'a-token-for-the-fork-step-range-test';

class Steps {
  @Transaction()
  static async one(ctx: TransactionContext): Promise<number> {
    return (await ctx.client.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n;
  }

  @Workflow()
  static async run(ctx: WorkflowContext): Promise<number> {
    return ctx.invoke(Steps).one();
  }
}

let runtime: OperonRuntime;
let app: HttpServer;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('fork_step_range', { management: { token: TOKEN }, telemetry: { logs: { logLevel: 'silent' } } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Steps], config);
  app = await createHttpServer(runtime);
  await expect((await runtime.client.invoke(Steps, { workflowUUID: 'source' }).run()).getResult()).resolves.toBe(1);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1_000 });
});

it('a fromStep past what an operation id can be is a 400 naming fromStep, and makes nothing', async () => {
  for (const fromStep of [2 ** 31, Number.MAX_SAFE_INTEGER]) {
    const answer = await authorizedPost(app, TOKEN)('/operon/workflows/source/fork', { fromStep, workflowUUID: `far-${fromStep}` });
    expect({ status: answer.statusCode, error: answer.json().error }).toEqual({ status: 400, error: expect.stringMatching(/fromStep/) });
  }
  expect(await query(sysDb, `SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_uuid LIKE 'far-%'`)).toEqual([]);
});
