/**
 * A resume must not hand over a workflow whose run would wait for the result of a child that was
 * removed (alone, by a version of retention that did not keep families together, or by hand): its
 * run would wait for a result that no longer exists. The single resume checked its target only;
 * a bulk resume (filters) and the cancelled workflows below a resumed one were not checked. Each
 * is now refused with a 409 naming the workflow and its child, and nothing is resumed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

class RemovedKid {
  @Workflow()
  static async leaf(_ctx: WorkflowContext): Promise<string> {
    return 'leaf';
  }

  /** Starts a child that ends at once, waits for `go`, then reads the child's result. */
  @Workflow()
  static async readsLater(ctx: WorkflowContext): Promise<string> {
    const child = await ctx.startChildWorkflow(RemovedKid).leaf();
    await ctx.recv('go', 600);
    return child.getResult();
  }

  @Workflow()
  static async outer(ctx: WorkflowContext): Promise<string> {
    return ctx.invokeChildWorkflow(RemovedKid).readsLater();
  }
}

const TOKEN = 'a-token-for-the-removed-kid-resume-test';
const config = testConfig('resume_removed_kid', { management: { token: TOKEN } });
const sys = config.database.system_database;
let runtime: OperonRuntime;
let server: Awaited<ReturnType<typeof createHttpServer>>;

const statusOf = async (uuid: string) => (await query(sys, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

async function call(method: 'POST', url: string, body?: object) {
  const response = await server.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(body === undefined ? {} : { payload: body }) });
  return { status: response.statusCode, body: response.json() as any };
}

/** `uuid` (a readsLater) cancelled while it waits, its ended child then removed alone. */
async function cancelledWithRemovedChild(uuid: string, cancel: string): Promise<void> {
  await until(async () => (await statusOf(`${uuid}~c0`)) === 'SUCCESS', 'the child ended');
  await until(async () => (await query(sys, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'operon.recv.deadline'`, [uuid])).length === 1, 'it waits');
  expect((await call('POST', `/operon/workflows/${cancel}/cancel`)).status).toBe(200);
  await until(async () => (await statusOf(uuid)) === 'CANCELLED', 'it is cancelled');
  await query(sys, 'DELETE FROM operon.workflow_status WHERE workflow_uuid = $1', [`${uuid}~c0`]);
}

beforeAll(async () => {
  runtime = await startRuntime([RemovedKid], config);
  server = await createHttpServer(runtime);
});

afterAll(async () => {
  await server?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

describe('a resume over a removed child', () => {
  it('a bulk resume is refused, naming the workflow and its child, and resumes nothing', async () => {
    await runtime.client.invoke(RemovedKid, { workflowUUID: 'bulk-1' }).readsLater();
    await cancelledWithRemovedChild('bulk-1', 'bulk-1');
    const answer = await call('POST', '/operon/workflows/resume', { name: 'RemovedKid.readsLater', status: 'CANCELLED' });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(/workflow bulk-1: its child bulk-1~c0 \(started by operation 0\) was deleted before the workflow recorded its result/);
    expect(await statusOf('bulk-1')).toBe('CANCELLED');
  });

  it('a resume of a workflow whose cancelled child has a removed child of its own is refused', async () => {
    await runtime.client.invoke(RemovedKid, { workflowUUID: 'tree-1' }).outer();
    await cancelledWithRemovedChild('tree-1~c0', 'tree-1');
    const answer = await call('POST', '/operon/workflows/tree-1/resume');
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(/workflow tree-1~c0: its child tree-1~c0~c0 \(started by operation 0\) was deleted/);
    expect(await statusOf('tree-1')).toBe('CANCELLED');
    expect(await statusOf('tree-1~c0')).toBe('CANCELLED');
  });
});
