/**
 * A fork copies the original's records before its step, a child's start among them: it reads the
 * original's child, of the original's family. Retention judged that family without the fork, so
 * a running fork lost the child it was still to read (its getResult: "not found") once the
 * original and its child had aged past the period. A family is now kept while a fork of any of
 * its members (or a fork of such a fork) has not itself ended and aged past the period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { RetentionSweeper } from '../../packages/runtime/src/management/retention-sweeper.js';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

class ForkedFamily {
  @Workflow()
  static async leaf(_ctx: WorkflowContext): Promise<string> {
    return 'from the child';
  }

  /** Starts a child that ends at once (operation 0), waits for `go`, then reads the child's result. */
  @Workflow()
  static async readsLater(ctx: WorkflowContext): Promise<string> {
    const child = await ctx.startChildWorkflow(ForkedFamily).leaf();
    await ctx.recv('go', 600);
    return child.getResult();
  }
}

const DAY_MS = 86_400_000;
const TOKEN = 'a-token-for-the-forked-family-test';
const config = testConfig('fork_family_retention', { management: { token: TOKEN } });
const sys = config.database.system_database;
let runtime: OperonRuntime;
let server: Awaited<ReturnType<typeof createHttpServer>>;

const statusOf = async (uuid: string) => (await query(sys, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;
const age = (...uuids: string[]) =>
  query(sys, 'UPDATE operon.workflow_status SET created_at = created_at - $1, updated_at = updated_at - $1 WHERE workflow_uuid = ANY($2)', [3 * DAY_MS, uuids]);

async function sweep(): Promise<number> {
  const sweeper = new RetentionSweeper(runtime.systemDb, runtime.executor.deps.clock, runtime.logger, { retentionDays: 2, batchSize: 10, pauseMs: 0 });
  try {
    return await sweeper.sweep();
  } finally {
    await sweeper.stop();
  }
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

const waits = (uuid: string) => until(async () => (await query(sys, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'operon.recv.deadline'`, [uuid])).length === 1, `${uuid} waits`);

async function fork(uuid: string, fromStep: number, forked: string): Promise<void> {
  const response = await server.inject({ method: 'POST', url: `/operon/workflows/${uuid}/fork`, headers: { authorization: `Bearer ${TOKEN}` }, payload: { fromStep, workflowUUID: forked } });
  expect(response.statusCode, response.body).toBe(200);
}

beforeAll(async () => {
  runtime = await startRuntime([ForkedFamily], config);
  server = await createHttpServer(runtime);
});

afterAll(async () => {
  await server?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

describe('retention of a family a fork reads from', () => {
  it('keeps the original and its child while a fork (or a fork of the fork) that reads the child runs, then deletes them all', async () => {
    await runtime.client.invoke(ForkedFamily, { workflowUUID: 'orig-1' }).readsLater();
    await waits('orig-1');
    await runtime.client.send('orig-1', 'now', 'go');
    await expect(runtime.client.retrieveWorkflow('orig-1').getResult()).resolves.toBe('from the child');
    // The fork and the fork of the fork keep the child's start (operation 0) and wait again.
    await fork('orig-1', 1, 'orig-1-fork');
    await waits('orig-1-fork');
    await fork('orig-1-fork', 1, 'orig-1-fork-fork');
    await waits('orig-1-fork-fork');
    await age('orig-1', 'orig-1~c0');
    await sweep();
    expect(await statusOf('orig-1~c0')).toBe('SUCCESS');
    await runtime.client.send('orig-1-fork', 'now', 'go');
    await expect(runtime.client.retrieveWorkflow('orig-1-fork').getResult()).resolves.toBe('from the child');
    // The fork ended and aged: the fork of the fork still keeps the original's family.
    await age('orig-1-fork');
    await sweep();
    expect(await statusOf('orig-1~c0')).toBe('SUCCESS');
    await runtime.client.send('orig-1-fork-fork', 'now', 'go');
    await expect(runtime.client.retrieveWorkflow('orig-1-fork-fork').getResult()).resolves.toBe('from the child');
    await age('orig-1-fork-fork');
    await sweep();
    expect(await query(sys, "SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_uuid LIKE 'orig-1%'")).toEqual([]);
  });
});
