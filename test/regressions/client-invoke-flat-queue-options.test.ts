/**
 * `runtime.client.invoke(Cls, { queue, workflowUUID, priority, ... })` takes the queue options in
 * the same flat shape as a handler's `ctx.invoke`: before, the WorkflowQueue itself was read as the
 * enqueue options and refused with "unknown enqueue option options".
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const flat = new WorkflowQueue('regr-flat-client', { concurrency: 2 });

class FlatJobs {
  @Workflow()
  static async echo(_ctx: WorkflowContext, value: number): Promise<number> {
    return value * 2;
  }
}

let runtime: OperonRuntime;
let sys: string;

beforeAll(async () => {
  const config = testConfig('regr_flatq');
  sys = config.database.system_database;
  runtime = await startRuntime([FlatJobs], config);
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1_000 });
});

it('enqueues with a WorkflowQueue and flat options given to the client', async () => {
  const invoker = runtime.client.invoke(FlatJobs, { queue: flat, workflowUUID: 'flat-client-1', priority: 3, deduplicationID: 'flat-d1' }) as unknown as {
    echo(value: number): Promise<import('@operon/sdk').WorkflowHandle<number>>;
  };
  const handle = await invoker.echo(21);
  expect(handle.getWorkflowUUID()).toBe('flat-client-1');
  expect(await handle.getResult()).toBe(42);
  const rows = await query(sys, `SELECT queue_name, queue_priority FROM operon.workflow_status WHERE workflow_uuid = $1`, ['flat-client-1']);
  expect(rows[0]).toMatchObject({ queue_name: "regr-flat-client", queue_priority: 3 });
});

it('still takes the nested { queue: { queue, ... } } shape', async () => {
  const invoker = runtime.client.invoke(FlatJobs, { queue: { queue: flat, priority: 1 }, workflowUUID: 'flat-client-2' }) as unknown as {
    echo(value: number): Promise<import('@operon/sdk').WorkflowHandle<number>>;
  };
  expect(await (await invoker.echo(5)).getResult()).toBe(10);
});

it('refuses priority and friends given to the client without a queue', async () => {
  const invoker = runtime.client.invoke(FlatJobs, { priority: 1 }) as unknown as { echo(value: number): Promise<unknown> };
  await expect(invoker.echo(1)).rejects.toThrow(/only apply with a queue/);
});
