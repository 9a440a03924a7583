/**
 * Cancel of a workflow waiting on its queue, and of a schedule's run. The queued one is never
 * dequeued (it holds no slot, nobody owns it) and a resume puts it back on its queue; the run of
 * a schedule stops after its operation in flight while later ticks still start their own runs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Communicator, Scheduled, Workflow, WorkflowQueue, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { cancelWorkflows, resumeWorkflows, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const onlyOne = new WorkflowQueue('cancel-queued-one', { concurrency: 1 });
const gates = new Map<string, () => void>();
const ran = new Map<string, number>();

class Queued {
  @Workflow()
  static async held(ctx: WorkflowContext): Promise<string> {
    ran.set(ctx.workflowUUID, (ran.get(ctx.workflowUUID) ?? 0) + 1);
    await new Promise<void>((resolve) => gates.set(ctx.workflowUUID, resolve));
    return 'done';
  }
}

class Ticks {
  @Communicator()
  static async after(ctx: CommunicatorContext): Promise<void> {
    ran.set(`after:${ctx.workflowUUID}`, 1);
  }

  @Scheduled({ crontab: '* * * * * *' })
  @Workflow()
  static async everySecond(ctx: WorkflowContext): Promise<void> {
    await ctx.recv('go', 30);
    await ctx.invoke(Ticks).after();
  }
}

let runtime: OperonRuntime;
let sysDb: string;

beforeAll(async () => {
  const config = testConfig('cancel_queued_sched');
  sysDb = config.database.system_database;
  runtime = await startRuntime([Queued, Ticks], config);
});

afterAll(async () => {
  for (const open of gates.values()) open();
  await runtime?.destroy({ timeoutMs: 1000 });
});

const rowOf = async (uuid: string) => (await query(sysDb, 'SELECT status, owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0];
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

it('a workflow waiting on its queue: cancelled unowned, never dequeued; resumed back onto its queue', async () => {
  const pool = runtime.systemDb.systemPool;
  const options = { appPool: runtime.systemDb.appPool };
  const first = await runtime.client.invoke(Queued, { workflowUUID: 'queued-first', queue: onlyOne }).held();
  await until(() => gates.has('queued-first'), 'first running');
  await runtime.client.invoke(Queued, { workflowUUID: 'queued-second', queue: onlyOne }).held();
  expect(await cancelWorkflows(pool, { workflowUUID: 'queued-second' }, { actor: 'test' }, options)).toMatchObject({ changed: 1 });
  expect(await rowOf('queued-second')).toEqual({ status: 'CANCELLED', owner: null });
  // The slot frees: the cancelled one is not taken.
  gates.get('queued-first')!();
  await expect(first.getResult()).resolves.toBe('done');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(ran.get('queued-second')).toBeUndefined();
  expect(await resumeWorkflows(pool, { workflowUUID: 'queued-second' }, { actor: 'test' }, options)).toMatchObject({ changed: 1 });
  await until(() => gates.has('queued-second'), 'second dequeued after its resume');
  gates.get('queued-second')!();
  await expect(runtime.client.retrieveWorkflow('queued-second').getResult()).resolves.toBe('done');
  expect(ran.get('queued-second')).toBe(1);
});

it("a schedule's run: stops after its wait, starts nothing more; later ticks still run", async () => {
  const runs = async () => (await query(sysDb, `SELECT workflow_uuid FROM operon.workflow_status WHERE workflow_name = 'Ticks.everySecond' ORDER BY created_at`)).map((r) => r.workflow_uuid as string);
  await until(async () => (await runs()).length > 0, 'a tick ran');
  const [run] = await runs();
  await until(async () => (await query(sysDb, 'SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1', [run])).length > 0, 'the run waits');
  expect(await cancelWorkflows(runtime.systemDb.systemPool, { workflowUUID: run! }, { actor: 'test' }, { appPool: runtime.systemDb.appPool })).toMatchObject({ changed: 1 });
  await runtime.client.send(run!, 'go', 'go');
  const before = (await runs()).length;
  await until(async () => (await runs()).length > before, 'a later tick ran');
  expect(await rowOf(run!)).toMatchObject({ status: 'CANCELLED' });
  expect(ran.get(`after:${run}`)).toBeUndefined();
});
