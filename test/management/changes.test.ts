/**
 * Cancel, resume, restart, fork and the bulk forms through the API, on a real runtime and
 * server: a cancel stops a workflow after its operation in flight (recorded; the next never
 * starts) and cascades to its children; getResult() rejects with OperonWorkflowCancelledError;
 * a resume continues after the last record; a fork returns the original's records (a committed
 * transaction's too) before its step and runs the rest anew. Every change is in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Communicator,
  OperonWorkflowCancelledError,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
const TOKEN = 'a-token-for-the-management-change-tests';

/** Communicator calls, per workflow and step: what really ran. */
const calls = new Map<string, number[]>();
/** Gates a test opens: a communicator at `uuid:step` waits for its gate. */
const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
function gate(key: string) {
  let entry = gates.get(key);
  if (!entry) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    gates.set(key, (entry = { promise, open }));
  }
  return entry;
}
/** Resolves once the communicator at `uuid:step` has been called. */
const reached = new Map<string, () => void>();
function whenReached(key: string): Promise<void> {
  return new Promise((resolve) => reached.set(key, resolve));
}

class Ops {
  @Communicator()
  static async step(ctx: CommunicatorContext, n: number, gated: boolean): Promise<number> {
    const uuid = ctx.workflowUUID;
    calls.set(uuid, [...(calls.get(uuid) ?? []), n]);
    reached.get(`${uuid}:${n}`)?.();
    if (gated) await gate(`${uuid}:${n}`).promise;
    return n * 10;
  }

  @Transaction()
  static async price(ctx: TransactionContext, n: number): Promise<number> {
    const { rows } = await ctx.client.query<{ v: number }>('SELECT ($1::int * 100) AS v', [n]);
    calls.set(ctx.workflowUUID, [...(calls.get(ctx.workflowUUID) ?? []), -n]);
    return rows[0]!.v;
  }

  /** Three communicators; `gatedAt` waits for its gate. */
  @Workflow()
  static async three(ctx: WorkflowContext, gatedAt: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < 3; i++) out.push(await ctx.invoke(Ops).step(i, i === gatedAt));
    return out;
  }

  /** A transaction, then two communicators. */
  @Workflow()
  static async priced(ctx: WorkflowContext): Promise<number[]> {
    return [await ctx.invoke(Ops).price(1), await ctx.invoke(Ops).step(1, false), await ctx.invoke(Ops).step(2, false)];
  }

  /** A tree: `depth` levels below this one, `fanout` children each, every leaf waiting for a message. */
  @Workflow()
  static async tree(ctx: WorkflowContext, depth: number, fanout: number): Promise<unknown> {
    if (depth === 0) return ctx.recv('never', 600);
    const handles = [];
    for (let i = 0; i < fanout; i++) handles.push(await ctx.startChildWorkflow(Ops).tree(depth - 1, fanout));
    return Promise.all(handles.map((h) => h.getResult()));
  }

  @Workflow()
  static async fails(ctx: WorkflowContext): Promise<void> {
    await ctx.invoke(Ops).step(0, false);
    throw new Error('boom');
  }
}

let runtime: OperonRuntime;
let app: HttpServer;
let sysDb: string;

async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: response.statusCode, body: response.json() as any };
}

async function statusOf(uuid: string): Promise<string> {
  return (await query(sysDb, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

beforeAll(async () => {
  const config = testConfig('mgmt_changes', { management: { token: TOKEN } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Ops], config);
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  for (const entry of gates.values()) entry.open();
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

describe('cancel', () => {
  it('lets the operation in flight finish and record, starts no further one, and rejects getResult', async () => {
    const reachedGate = whenReached('cancel-1:1');
    const handle = await runtime.client.invoke(Ops, { workflowUUID: 'cancel-1' }).three(1);
    await reachedGate;
    const cancelled = await call('POST', '/operon/workflows/cancel-1/cancel');
    expect(cancelled).toEqual({ status: 200, body: { changed: 1, workflowUUIDs: ['cancel-1'] } });
    expect(await statusOf('cancel-1')).toBe('CANCELLED');
    await expect(handle.getResult()).rejects.toBeInstanceOf(OperonWorkflowCancelledError);
    await expect(handle.getResult()).rejects.toThrow('workflow cancel-1 was cancelled; resume it to let it continue');
    // The operation in flight finishes: its outcome is recorded.
    gate('cancel-1:1').open();
    await eventually(async () => (await query(sysDb, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'cancel-1' AND function_id = 1`)).length === 1, 'step 1 recorded');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(calls.get('cancel-1')).toEqual([0, 1]);
    const records = await query(sysDb, `SELECT function_id FROM operon.operation_outputs WHERE workflow_uuid = 'cancel-1' ORDER BY 1`);
    expect(records.map((r) => r.function_id)).toEqual([0, 1]);
    expect(await statusOf('cancel-1')).toBe('CANCELLED');
    // A second cancel changes nothing; an ended workflow cannot be cancelled.
    expect((await call('POST', '/operon/workflows/cancel-1/cancel')).body.changed).toBe(0);
  });

  it('is never undone by a restart: a cancelled workflow is not recovered', async () => {
    const restarted = await startRuntime([Ops], runtime.config);
    try {
      // The new instance adopts the old one's PENDING work at startup; the cancelled one is not among it.
      expect(await statusOf('cancel-1')).toBe('CANCELLED');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(calls.get('cancel-1')).toEqual([0, 1]);
    } finally {
      await restarted.destroy({ timeoutMs: 100 });
    }
    // That restart took this runtime's place (same executor id): start a fresh one for the rest.
    await app.close();
    await runtime.destroy({ timeoutMs: 100 });
    runtime = await startRuntime([Ops], runtime.config);
    app = await createHttpServer(runtime);
  });

  it('cascades to the whole child tree in one statement', async () => {
    await runtime.client.invoke(Ops, { workflowUUID: 'tree-1' }).tree(2, 3);
    // 1 + 3 + 9 workflows, every leaf waiting.
    await eventually(async () => (await query(sysDb, `SELECT count(*)::int AS n FROM operon.operation_outputs WHERE function_name = 'operon.recv.deadline'`))[0].n === 9, 'all leaves waiting');
    const { status, body } = await call('POST', '/operon/workflows/tree-1/cancel');
    expect(status).toBe(200);
    expect(body.changed).toBe(13);
    const statuses = await query(sysDb, `SELECT status, count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid LIKE 'tree-1%' GROUP BY status`);
    expect(statuses).toEqual([{ status: 'CANCELLED', n: 13 }]);
  });

  it('refuses a workflow that has ended (409) or does not exist (404)', async () => {
    await (await runtime.client.invoke(Ops, { workflowUUID: 'ended-1' }).three(-1)).getResult();
    const ended = await call('POST', '/operon/workflows/ended-1/cancel');
    expect(ended.status).toBe(409);
    expect(ended.body.error).toBe('workflow ended-1 is SUCCESS: only a PENDING or ENQUEUED workflow can be cancelled');
    expect((await call('POST', '/operon/workflows/nothing-here/cancel')).status).toBe(404);
  });
});

describe('resume', () => {
  it('continues a cancelled workflow after its last recorded operation', async () => {
    const reachedGate = whenReached('resume-1:1');
    await runtime.client.invoke(Ops, { workflowUUID: 'resume-1' }).three(1);
    await reachedGate;
    await call('POST', '/operon/workflows/resume-1/cancel');
    gate('resume-1:1').open();
    await eventually(async () => (await query(sysDb, `SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'resume-1' AND function_id = 1`)).length === 1, 'step 1 recorded');
    const resumed = await call('POST', '/operon/workflows/resume-1/resume');
    expect(resumed).toEqual({ status: 200, body: { changed: 1, workflowUUIDs: ['resume-1'] } });
    await expect(runtime.client.retrieveWorkflow('resume-1').getResult()).resolves.toEqual([0, 10, 20]);
    // Steps 0 and 1 were not called again.
    expect(calls.get('resume-1')).toEqual([0, 1, 2]);
  });

  it('resumes an ERROR workflow, and refuses one that is running or done', async () => {
    await expect((await runtime.client.invoke(Ops, { workflowUUID: 'fails-1' }).fails()).getResult()).rejects.toThrow('boom');
    expect((await call('POST', '/operon/workflows/fails-1/resume')).body.changed).toBe(1);
    await expect(runtime.client.retrieveWorkflow('fails-1').getResult()).rejects.toThrow('boom');
    // The recorded step 0 was replayed, not called again.
    expect(calls.get('fails-1')).toEqual([0]);
    const done = await call('POST', '/operon/workflows/ended-1/resume');
    expect(done.status).toBe(409);
    expect(done.body.error).toMatch(/^workflow ended-1 is SUCCESS: only a CANCELLED, ERROR, RETRIES_EXCEEDED workflow can be resumed$/);
  });
});

describe('restart and fork', () => {
  it('restarts with the same inputs, every operation anew', async () => {
    const { status, body } = await call('POST', '/operon/workflows/ended-1/restart');
    expect(status).toBe(200);
    await expect(runtime.client.retrieveWorkflow(body.workflowUUID).getResult()).resolves.toEqual([0, 10, 20]);
    expect(calls.get(body.workflowUUID)).toEqual([0, 1, 2]);
    expect((await call('GET', `/operon/workflows/${body.workflowUUID}`)).body).toMatchObject({ workflowName: 'Ops.three', inputs: [-1], status: 'SUCCESS' });
  });

  it('forks from a step: earlier operations (a committed transaction too) return the original records', async () => {
    await (await runtime.client.invoke(Ops, { workflowUUID: 'priced-1' }).priced()).getResult();
    expect(calls.get('priced-1')).toEqual([-1, 1, 2]);
    const { status, body } = await call('POST', '/operon/workflows/priced-1/fork', { fromStep: 2, workflowUUID: 'priced-1-fork' });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.workflowUUID).toBe('priced-1-fork');
    await expect(runtime.client.retrieveWorkflow('priced-1-fork').getResult()).resolves.toEqual([100, 10, 20]);
    // Only step 2 ran in the fork.
    expect(calls.get('priced-1-fork')).toEqual([2]);
    const steps = (await call('GET', '/operon/workflows/priced-1-fork/steps')).body.steps;
    expect(steps.map((s: { kind: string }) => s.kind)).toEqual(['transaction', 'communicator', 'communicator']);
    const taken = await call('POST', '/operon/workflows/priced-1/fork', { fromStep: 1, workflowUUID: 'priced-1-fork' });
    expect(taken.status).toBe(409);
    // The very same fork again (a retry whose answer was lost) is answered with the fork it made, which runs nothing more.
    const again = await call('POST', '/operon/workflows/priced-1/fork', { fromStep: 2, workflowUUID: 'priced-1-fork' });
    expect(again.status).toBe(200);
    expect(again.body.workflowUUID).toBe('priced-1-fork');
    await expect(runtime.client.retrieveWorkflow('priced-1-fork').getResult()).resolves.toEqual([100, 10, 20]);
    expect(calls.get('priced-1-fork')).toEqual([2]);
    const bad = await call('POST', '/operon/workflows/priced-1/fork', { fromStep: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/fromStep must be an operation id/);
  });
});

describe('bulk changes and the audit log', () => {
  it('cancels and resumes every workflow a filter selects, answering how many changed', async () => {
    const uuids = ['bulk-1', 'bulk-2', 'bulk-3'];
    const reachedAll = uuids.map((uuid) => whenReached(`${uuid}:0`));
    for (const uuid of uuids) await runtime.client.invoke(Ops, { workflowUUID: uuid }).three(0);
    await Promise.all(reachedAll);
    const none = await call('POST', '/operon/workflows/cancel', {});
    expect(none.status).toBe(400);
    expect(none.body.error).toMatch(/a bulk change needs at least one filter/);
    const cancelled = await call('POST', '/operon/workflows/cancel', { status: 'PENDING', name: 'Ops.three' });
    expect(cancelled).toEqual({ status: 200, body: { changed: 3 } });
    for (const uuid of uuids) gate(`${uuid}:0`).open();
    const resumed = await call('POST', '/operon/workflows/resume', { status: ['CANCELLED'], name: 'Ops.three' });
    // Every CANCELLED Ops.three: bulk-1..3, and cancel-1 from the first test.
    expect(resumed.status).toBe(200);
    expect(resumed.body.changed).toBe(4);
    for (const uuid of uuids) await expect(runtime.client.retrieveWorkflow(uuid).getResult()).resolves.toEqual([0, 10, 20]);
  });

  it('lists every change, newest first: who, when, what, which workflows', async () => {
    const { status, body } = await call('GET', '/operon/audit?limit=100');
    expect(status).toBe(200);
    const actions = body.entries.map((e: { action: string }) => e.action);
    expect(actions.slice(0, 3)).toEqual(['bulk-resume', 'bulk-cancel', 'fork']);
    expect(body.entries[0]).toMatchObject({ actor: 'management-token', changed: 4, request: { filter: { status: ['CANCELLED'], name: 'Ops.three' } } });
    expect(body.entries[0].workflowUUIDs).toEqual(['bulk-1', 'bulk-2', 'bulk-3', 'cancel-1']);
    expect(Date.parse(body.entries[0].at)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.entries.findLast((e: { action: string }) => e.action === 'cancel')).toMatchObject({ request: { workflowUUID: 'cancel-1' }, workflowUUIDs: ['cancel-1'] });
    const page = await call('GET', '/operon/audit?limit=2');
    expect(page.body.entries).toHaveLength(2);
    const next = await call('GET', `/operon/audit?limit=2&cursor=${page.body.nextCursor}`);
    expect(next.body.entries[0].id).toBeLessThan(page.body.entries[1].id);
  });
});
