/**
 * Retention keeps families together: a workflow and its children (and theirs) are deleted
 * together, in one statement, once every one of them has ended and is past the retention period,
 * and not before. A parent that is kept keeps its ended children (a later getResult of one still
 * reads it); a parent past retention is kept while a child runs; a family with one member held
 * locked, or resumed under the sweep, is left whole for the next sweep. A child whose parent is
 * gone (removed before families were kept together) is a family of its own. A parent whose child
 * was removed says so in its detail, and a resume or fork that would wait for that child's
 * result is refused, naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { RetentionSweeper } from '../../packages/runtime/src/management/retention-sweeper.js';
import { connectTo, query, startRuntime, testConfig } from '../helpers/test-databases.js';

class Family {
  @Workflow()
  static async leaf(_ctx: WorkflowContext, text: string): Promise<string> {
    return text;
  }

  @Workflow()
  static async parkedLeaf(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('never', 600);
  }

  /** Starts a child that ends at once, waits for `go`, then reads the child's result. */
  @Workflow()
  static async readsLater(ctx: WorkflowContext): Promise<string> {
    const child = await ctx.startChildWorkflow(Family).leaf('from the child');
    await ctx.recv('go', 600);
    return child.getResult();
  }

  /** Starts a child that keeps running, and ends without waiting for it. */
  @Workflow()
  static async leavesChild(ctx: WorkflowContext): Promise<string> {
    await ctx.startChildWorkflow(Family).parkedLeaf();
    return 'left';
  }

  /** Three generations, each waiting for the next. */
  @Workflow()
  static async grand(ctx: WorkflowContext): Promise<string> {
    return ctx.invokeChildWorkflow(Family).middle();
  }

  @Workflow()
  static async middle(ctx: WorkflowContext): Promise<string> {
    return ctx.invokeChildWorkflow(Family).leaf('grandchild');
  }
}

const DAY_MS = 86_400_000;
const TOKEN = 'a-token-for-the-retention-family-tests';
const config = testConfig('retention_families', { management: { token: TOKEN } });
const sys = config.database.system_database;
let runtime: OperonRuntime;
let server: Awaited<ReturnType<typeof createHttpServer>>;

/** The child UUID the workflow's first operation started. */
const firstChild = (parent: string) => `${parent}~c0`;

async function exists(uuid: string): Promise<boolean> {
  return (await query(sys, 'SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid])).length === 1;
}

async function statusOf(uuid: string): Promise<string | undefined> {
  return (await query(sys, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;
}

/** Makes the workflows look created and last changed three days ago. */
async function age(...uuids: string[]): Promise<void> {
  await query(sys, 'UPDATE operon.workflow_status SET created_at = created_at - $1, updated_at = updated_at - $1 WHERE workflow_uuid = ANY($2)', [3 * DAY_MS, uuids]);
}

/** One sweep with a two-day retention, in batches of `batchSize` rows, as the running executor does it. */
async function sweep(batchSize = 2): Promise<number> {
  const sweeper = new RetentionSweeper(runtime.systemDb, runtime.executor.deps.clock, runtime.logger, { retentionDays: 2, batchSize, pauseMs: 0 });
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

async function call(method: 'GET' | 'POST', url: string, body?: object) {
  const response = await server.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(body === undefined ? {} : { payload: body }) });
  return { status: response.statusCode, body: response.json() as any };
}

beforeAll(async () => {
  runtime = await startRuntime([Family], config);
  server = await createHttpServer(runtime);
});

afterAll(async () => {
  await server?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

describe('retention of families', () => {
  it('keeps an ended child past retention while its parent runs: the parent reads its result later', async () => {
    await runtime.client.invoke(Family, { workflowUUID: 'reads-1' }).readsLater();
    await until(async () => (await statusOf(firstChild('reads-1'))) === 'SUCCESS', 'the child ended');
    await age(firstChild('reads-1'));
    await sweep();
    expect(await exists(firstChild('reads-1'))).toBe(true);
    await runtime.client.send('reads-1', 'now', 'go');
    await expect(runtime.client.retrieveWorkflow('reads-1').getResult()).resolves.toBe('from the child');
  });

  it('keeps an ended child past retention while its ended parent is within it', async () => {
    await (await runtime.client.invoke(Family, { workflowUUID: 'recent-1' }).grand()).getResult();
    await age(firstChild('recent-1'), firstChild(firstChild('recent-1')));
    await sweep();
    for (const uuid of ['recent-1', firstChild('recent-1'), firstChild(firstChild('recent-1'))]) expect(await exists(uuid)).toBe(true);
    const detail = await call('GET', '/operon/workflows/recent-1');
    expect(detail.body.children.map((c: any) => c.workflowUUID)).toEqual([firstChild('recent-1')]);
  });

  it('keeps an ended parent past retention while its child runs', async () => {
    await expect((await runtime.client.invoke(Family, { workflowUUID: 'leaves-1' }).leavesChild()).getResult()).resolves.toBe('left');
    await until(async () => (await statusOf(firstChild('leaves-1'))) === 'PENDING', 'the child runs');
    await age('leaves-1', firstChild('leaves-1'));
    await sweep();
    expect(await statusOf('leaves-1')).toBe('SUCCESS');
    const detail = await call('GET', '/operon/workflows/leaves-1');
    expect(detail.body.children.map((c: any) => [c.workflowUUID, c.status])).toEqual([[firstChild('leaves-1'), 'PENDING']]);
    // Once the child ends and is past retention too, the family goes.
    await runtime.client.send(firstChild('leaves-1'), 'done', 'never');
    await expect(runtime.client.retrieveWorkflow(firstChild('leaves-1')).getResult()).resolves.toBe('done');
    await age(firstChild('leaves-1'));
    await sweep();
    expect(await exists('leaves-1')).toBe(false);
    expect(await exists(firstChild('leaves-1'))).toBe(false);
  });

  it('deletes a whole family past retention together, and none of it while one member is held', async () => {
    await (await runtime.client.invoke(Family, { workflowUUID: 'grand-1' }).grand()).getResult();
    const family = ['grand-1', firstChild('grand-1'), firstChild(firstChild('grand-1'))];
    await age(...family);
    const holder = await connectTo(sys);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1 FOR UPDATE', [firstChild('grand-1')]);
      await sweep();
      for (const uuid of family) expect(await exists(uuid)).toBe(true);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    await sweep();
    for (const uuid of family) expect(await exists(uuid)).toBe(false);
    const records = await query(sys, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [family]);
    expect(records[0].n).toBe(0);
  });

  it('deletes a child whose parent is already gone once it is past retention', async () => {
    await (await runtime.client.invoke(Family, { workflowUUID: 'orphan-1' }).grand()).getResult();
    // As a sweep before families were kept together could leave it: the parent removed alone.
    await query(sys, `DELETE FROM operon.workflow_status WHERE workflow_uuid = 'orphan-1'`);
    await age(firstChild('orphan-1'), firstChild(firstChild('orphan-1')));
    await sweep();
    expect(await exists(firstChild('orphan-1'))).toBe(false);
    expect(await exists(firstChild(firstChild('orphan-1')))).toBe(false);
  });

  it('is never partly done by two sweeps at once: each family is whole or gone, and the next sweep takes the rest', async () => {
    const old = Date.now() - 3 * DAY_MS;
    // 60 families of three generations, every member ended long ago.
    await query(
      sys,
      `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, kind, executor_id, inputs, parent_uuid, created_at, updated_at)
       SELECT uuid, 'SUCCESS', 'Family.leaf', 'workflow', 'seed', '[]', parent, $1, $1
       FROM generate_series(1, 60) i,
         LATERAL (VALUES ('pair-' || lpad(i::text, 3, '0'), NULL), ('pair-' || lpad(i::text, 3, '0') || '~c0', 'pair-' || lpad(i::text, 3, '0')),
                         ('pair-' || lpad(i::text, 3, '0') || '~c0~c0', 'pair-' || lpad(i::text, 3, '0') || '~c0')) AS m(uuid, parent)`,
      [old],
    );
    const partly = async () =>
      (await query(sys, `SELECT count(*)::int AS n FROM (SELECT split_part(workflow_uuid, '~', 1) AS family, count(*) AS members FROM operon.workflow_status WHERE workflow_uuid LIKE 'pair-%' GROUP BY 1) f WHERE members <> 3`))[0].n;
    const [first, second] = await Promise.all([sweep(7), sweep(5)]);
    expect(await partly()).toBe(0);
    const third = await sweep(7);
    expect(await partly()).toBe(0);
    expect(first + second + third).toBe(180);
    expect((await query(sys, `SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid LIKE 'pair-%'`))[0].n).toBe(0);
  });
});

describe('a sweep racing a resume', () => {
  it('either keeps the whole family, resumed, or deletes it whole with the resume refused', async () => {
    const outcomes: string[] = [];
    for (const uuid of ['race-1', 'race-2', 'race-3']) {
      await runtime.client.invoke(Family, { workflowUUID: uuid }).readsLater();
      await until(async () => (await statusOf(firstChild(uuid))) === 'SUCCESS', 'the child ended');
      await until(async () => (await query(sys, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'operon.recv.deadline'`, [uuid])).length === 1, 'the parent waits');
      expect((await call('POST', `/operon/workflows/${uuid}/cancel`)).status).toBe(200);
      await until(async () => (await query(sys, `SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = $1 AND owner IS NULL`, [uuid])).length === 1, 'the cancelled run let go');
      await age(uuid, firstChild(uuid));
      const [, resumed] = await Promise.all([sweep(), call('POST', `/operon/workflows/${uuid}/resume`)]);
      const [parent, child] = [await exists(uuid), await exists(firstChild(uuid))];
      if (resumed.status === 200) {
        expect([parent, child]).toEqual([true, true]);
        await runtime.client.send(uuid, 'now', 'go');
        await expect(runtime.client.retrieveWorkflow(uuid).getResult()).resolves.toBe('from the child');
        outcomes.push('resumed');
      } else {
        expect(resumed.status).toBeOneOf([404, 409]);
        expect([parent, child]).toEqual([false, false]);
        outcomes.push('deleted');
      }
    }
    expect(outcomes).toHaveLength(3);
  });
});

describe('a parent whose child was removed', () => {
  it('lists the child as removed, and refuses a resume or fork that would wait for its result, naming it', async () => {
    await runtime.client.invoke(Family, { workflowUUID: 'gone-1' }).readsLater();
    await until(async () => (await statusOf(firstChild('gone-1'))) === 'SUCCESS', 'the child ended');
    await until(async () => (await query(sys, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'gone-1' AND function_name = 'operon.recv.deadline'`)).length === 1, 'the parent waits');
    expect((await call('POST', '/operon/workflows/gone-1/cancel')).status).toBe(200);
    // As a version that did not keep families together could leave it: the child removed alone.
    await query(sys, 'DELETE FROM operon.workflow_status WHERE workflow_uuid = $1', [firstChild('gone-1')]);
    const detail = await call('GET', '/operon/workflows/gone-1');
    expect(detail.body).toMatchObject({ children: [], removedChildren: [{ functionID: 0, workflowUUID: firstChild('gone-1'), resultRead: false }] });
    const why = `its child ${firstChild('gone-1')} (started by operation 0) was deleted before the workflow recorded its result, so a run would wait for a result that no longer exists; fork it from step 0 or earlier to run that child anew`;
    expect(await call('POST', '/operon/workflows/gone-1/resume')).toEqual({ status: 409, body: expect.objectContaining({ error: `cannot resume workflow gone-1: ${why}` }) });
    expect(await call('POST', '/operon/workflows/gone-1/fork', { fromStep: 2 })).toEqual({ status: 409, body: expect.objectContaining({ error: `cannot fork workflow gone-1 from step 2: ${why}` }) });
    expect(await statusOf('gone-1')).toBe('CANCELLED');
    // From the child's step, the fork starts a child of its own.
    expect((await call('POST', '/operon/workflows/gone-1/fork', { fromStep: 0, workflowUUID: 'gone-1-again' })).status).toBe(200);
    await until(async () => (await query(sys, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'gone-1-again' AND function_name = 'operon.recv.deadline'`)).length === 1, 'the fork waits');
    await runtime.client.send('gone-1-again', 'now', 'go');
    await expect(runtime.client.retrieveWorkflow('gone-1-again').getResult()).resolves.toBe('from the child');
  });
});
