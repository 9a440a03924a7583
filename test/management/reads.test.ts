/**
 * The read routes on a real runtime and server: the list's filters and keyset pages, a
 * workflow's detail with what it waits on (a sleep, a recv, a child, an operation in flight) and
 * whether it is stuck, and its steps from both databases (a committed transaction's output lives
 * in the app database). Every bad parameter is a 400 that names it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, WorkflowQueue, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime, type WorkflowDetailView } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
const TOKEN = 'a-token-for-the-management-read-tests';

/** One at a time: a blocker holds it, so what is enqueued behind it waits in line. */
const line = new WorkflowQueue('reads-line', { concurrency: 1 });

let releaseBlocked: () => void = () => undefined;
const blocked = new Promise<void>((resolve) => (releaseBlocked = resolve));

class Shop {
  @Transaction()
  static async price(ctx: TransactionContext, item: string): Promise<number> {
    const { rows } = await ctx.client.query<{ n: number }>('SELECT length($1::text)::int AS n', [item]);
    return rows[0]!.n;
  }

  @Communicator()
  static async charge(_ctx: CommunicatorContext, amount: number): Promise<string> {
    return `charged ${amount}`;
  }

  @Communicator()
  static async hang(_ctx: CommunicatorContext): Promise<void> {
    await blocked;
  }

  @Workflow()
  static async order(ctx: WorkflowContext, item: string): Promise<string> {
    const price = await ctx.invoke(Shop).price(item);
    return ctx.invoke(Shop).charge(price);
  }

  @Workflow()
  static async nap(ctx: WorkflowContext): Promise<void> {
    await ctx.sleep(600);
  }

  @Workflow()
  static async listen(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('orders', 600);
  }

  @Workflow()
  static async parent(ctx: WorkflowContext): Promise<unknown> {
    return ctx.invokeChildWorkflow(Shop).listen();
  }

  @Workflow()
  static async messenger(ctx: WorkflowContext): Promise<unknown> {
    await ctx.send('nobody-1', 'hello', 'greetings');
    await ctx.setEvent('progress', 1);
    const seen = await ctx.getEvent(ctx.workflowUUID, 'progress', 5);
    const reply = await ctx.recv(undefined, 0.05);
    return [seen, reply];
  }

  @Workflow()
  static async stall(ctx: WorkflowContext): Promise<void> {
    await ctx.invoke(Shop).charge(1);
    await ctx.invoke(Shop).hang();
  }
}

let runtime: OperonRuntime;
let app: HttpServer;
let sysDb: string;
const auth = { authorization: `Bearer ${TOKEN}` };

async function get<T = any>(url: string): Promise<{ status: number; body: T }> {
  const response = await app.inject({ method: 'GET', url, headers: auth });
  return { status: response.statusCode, body: response.json() as T };
}

/** Polls the detail until `done` holds (the workflow reached its wait). */
async function detailWhen(uuid: string, done: (view: WorkflowDetailView) => boolean): Promise<WorkflowDetailView> {
  for (let i = 0; i < 200; i++) {
    const { body } = await get<WorkflowDetailView>(`/operon/workflows/${uuid}`);
    if (done(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`workflow ${uuid} never reached the state the test waits for`);
}

beforeAll(async () => {
  const config = testConfig('mgmt_reads', { management: { token: TOKEN, stuckAfterSeconds: 1 } });
  sysDb = config.database.system_database;
  runtime = await startRuntime([Shop], config);
  const alice = { authenticatedUser: 'alice', authenticatedRoles: ['user'], assumedRole: 'user' };
  for (const i of [1, 2, 3, 4, 5]) {
    await (await runtime.client.invoke(Shop, { workflowUUID: `order-${i}`, identity: i <= 2 ? alice : undefined }).order(`item-${i}`)).getResult();
  }
  await runtime.client.invoke(Shop, { workflowUUID: 'nap-1' }).nap();
  await runtime.client.invoke(Shop, { workflowUUID: 'listen-1' }).listen();
  await runtime.client.invoke(Shop, { workflowUUID: 'parent-1' }).parent();
  await runtime.client.invoke(Shop, { workflowUUID: 'stall-1' }).stall();
  await (await runtime.client.invoke(Shop, { workflowUUID: 'messenger-1' }).messenger()).getResult();
  // The queue's one slot is held by a stall; four wait behind it, by priority then enqueue order, one of them delayed.
  await runtime.client.invoke(Shop, { workflowUUID: 'line-0', queue: { queue: line } }).stall();
  for (const [uuid, priority, delaySeconds] of [['line-a', 5, 0], ['line-b', 0, 0], ['line-c', 5, 0], ['line-late', 0, 600]] as const) {
    await runtime.client.invoke(Shop, { workflowUUID: uuid, queue: { queue: line, priority, ...(delaySeconds ? { delaySeconds } : {}) } }).order(uuid);
  }
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  releaseBlocked();
  await app?.close();
  await runtime?.destroy({ timeoutMs: 1000 });
});

describe('GET /operon/workflows', () => {
  it('pages through every workflow newest first, with an opaque cursor, and filters', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body }: { status: number; body: { workflows: { workflowUUID: string; createdAt: string }[]; nextCursor: string | null } } =
        await get(`/operon/workflows?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      expect(body.workflows.length).toBeLessThanOrEqual(2);
      seen.push(...body.workflows.map((w) => w.workflowUUID));
      cursor = body.nextCursor;
      pages++;
    } while (cursor !== null);
    // 5 orders, nap, listen, parent, its child, stall, messenger, 5 on the queue: each once, newest first.
    expect(seen).toHaveLength(16);
    expect(new Set(seen).size).toBe(16);
    expect(pages).toBe(8);
    const all = (await get('/operon/workflows?limit=100')).body.workflows as { workflowUUID: string; status: string; createdAt: string; queueName: string | null }[];
    expect(all.map((w) => w.workflowUUID)).toEqual(seen);
    const times = all.map((w) => Date.parse(w.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const uuids = async (query: string) => ((await get(`/operon/workflows?${query}`)).body.workflows as { workflowUUID: string }[]).map((w) => w.workflowUUID).sort();
    expect(await uuids('status=SUCCESS')).toEqual(['messenger-1', 'order-1', 'order-2', 'order-3', 'order-4', 'order-5']);
    // Several statuses: one ordered read per status, merged; pages of them keep the list's order.
    const merged: string[] = [];
    let next: string | null = null;
    do {
      const { body }: { body: { workflows: { workflowUUID: string }[]; nextCursor: string | null } } = await get(
        `/operon/workflows?status=ENQUEUED,SUCCESS,ENQUEUED&limit=3${next ? `&cursor=${next}` : ''}`,
      );
      merged.push(...body.workflows.map((w) => w.workflowUUID));
      next = body.nextCursor;
    } while (next !== null);
    expect(merged).toEqual(all.filter((w) => w.status === 'ENQUEUED' || w.status === 'SUCCESS').map((w) => w.workflowUUID));
    expect(all.filter((w) => w.queueName === 'reads-line').map((w) => w.workflowUUID).sort()).toEqual(['line-0', 'line-a', 'line-b', 'line-c', 'line-late']);
    expect(await uuids('status=SUCCESS,CANCELLED&user=alice')).toEqual(['order-1', 'order-2']);
    expect(await uuids('name=Shop.nap')).toEqual(['nap-1']);
    expect(await uuids('parent=parent-1')).toHaveLength(1);
    expect(await uuids(`executor=${runtime.executor.lease.executorId}`)).toHaveLength(16);
    expect(await uuids('executor=nobody')).toEqual([]);
    const order3 = all.find((w) => w.workflowUUID === 'order-3')!;
    expect(await uuids(`createdBefore=${encodeURIComponent(order3.createdAt)}`)).toEqual(
      all.filter((w) => Date.parse(w.createdAt) < Date.parse(order3.createdAt)).map((w) => w.workflowUUID).sort(),
    );
    expect(await uuids(`createdAfter=${Date.parse(order3.createdAt)}`)).not.toContain('order-3');

    // The queue it went through and the version it ran on (both as stored on its row).
    await query(sysDb, `UPDATE operon.workflow_status SET queue_name = 'mail' WHERE workflow_uuid = 'order-4'`);
    expect(await uuids('queue=mail')).toEqual(['order-4']);
    expect(await uuids('queue=reads-line&status=ENQUEUED')).toEqual(['line-a', 'line-b', 'line-c', 'line-late']);
    expect(await uuids('queue=mail&status=PENDING')).toEqual([]);
    await query(sysDb, `UPDATE operon.workflow_status SET version = 'c0ffee01' WHERE workflow_uuid IN ('order-1', 'order-2')`);
    expect(await uuids('version=c0ffee01')).toEqual(['order-1', 'order-2']);
    expect(await uuids('version=no-such-version')).toEqual([]);
  });

  it('answers 400 naming the parameter for every bad one', async () => {
    const cases: [string, RegExp][] = [
      ['status=DONE', /status must be one or more of PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, RETRIES_EXCEEDED/],
      ['limit=0', /limit must be an integer from 1 to 1000, got "0"/],
      ['limit=lots', /limit must be an integer/],
      ['cursor=garbage', /cursor is not one this API gave out/],
      ['createdAfter=yesterday', /createdAfter must be an ISO 8601 time or epoch milliseconds/],
      ['stauts=PENDING', /unknown filter "stauts": the filters are status, name, executor, user, parent, queue, version, createdAfter, createdBefore/],
      ['queue=', /queue must be a non-empty string, got ""/],
      ['version=', /version must be a non-empty string, got ""/],
      ['queue=mail&queue=news', /queue must be a non-empty string, got \["mail","news"\]/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await get(`/operon/workflows?${query}`);
      expect(status, query).toBe(400);
      expect(body.error, query).toMatch(message);
    }
  });
});

describe('GET /operon/workflows/:uuid', () => {
  it('shows an ended workflow with its inputs, output and identity', async () => {
    const { status, body } = await get('/operon/workflows/order-1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      workflowUUID: 'order-1',
      status: 'SUCCESS',
      workflowName: 'Shop.order',
      inputs: ['item-1'],
      output: 'charged 6',
      error: null,
      authenticatedUser: 'alice',
      assumedRole: 'user',
      children: [],
      waitingOn: null,
      stuck: false,
    });
  });

  it('says what a pending workflow waits on', async () => {
    const nap = await detailWhen('nap-1', (v) => v.waitingOn?.kind === 'sleep');
    expect(nap.waitingOn).toMatchObject({ kind: 'sleep', functionID: 0 });
    expect(Date.parse((nap.waitingOn as { until: string }).until)).toBeGreaterThan(Date.now() + 500_000);
    expect(nap.stuck).toBe(false);

    const listen = await detailWhen('listen-1', (v) => v.waitingOn?.kind === 'recv');
    expect(listen.waitingOn).toMatchObject({ kind: 'recv', functionID: 1 });

    const parent = await detailWhen('parent-1', (v) => v.waitingOn?.kind === 'child');
    expect(parent.children).toHaveLength(1);
    expect(parent.waitingOn).toMatchObject({ kind: 'child', functionID: 0, workflowUUID: parent.children[0]!.workflowUUID });
    expect(parent.children[0]).toMatchObject({ status: 'PENDING', workflowName: 'Shop.listen', parentUUID: 'parent-1' });

    // In a communicator that never returns: operation 1 in this executor; stuck once past stuckAfterSeconds (1 s).
    const stall = await detailWhen('stall-1', (v) => v.waitingOn?.kind === 'operation' && v.waitingOn.functionID === 1);
    expect(stall.waitingOn).toMatchObject({ kind: 'operation', functionID: 1, executorId: runtime.executor.lease.executorId });
    const stuck = await detailWhen('stall-1', (v) => v.stuck);
    expect(stuck.stuck).toBe(true);
    // A long sleep is never stuck.
    expect((await get('/operon/workflows/nap-1')).body.stuck).toBe(false);
  });

  it("gives an ENQUEUED workflow's queue and its place in line (priority first, then enqueue order)", async () => {
    await detailWhen('line-0', (v) => v.status === 'PENDING');
    const places: Record<string, unknown> = {};
    for (const uuid of ['line-a', 'line-b', 'line-c', 'line-late']) {
      const { body } = await get<WorkflowDetailView>(`/operon/workflows/${uuid}`);
      expect(body.status, uuid).toBe('ENQUEUED');
      expect(body.queueName, uuid).toBe('reads-line');
      places[uuid] = body.waitingOn;
    }
    expect(places).toMatchObject({
      'line-b': { kind: 'queue', queueName: 'reads-line', position: 1, notBefore: null },
      'line-late': { kind: 'queue', queueName: 'reads-line', position: 2 },
      'line-a': { kind: 'queue', queueName: 'reads-line', position: 3, notBefore: null },
      'line-c': { kind: 'queue', queueName: 'reads-line', position: 4, notBefore: null },
    });
    const late = places['line-late'] as { notBefore: string };
    expect(Date.parse(late.notBefore)).toBeGreaterThan(Date.now() + 500_000);
    // The positions are the database's order: what the dequeue would take next.
    const rows = await query(sysDb, `SELECT workflow_uuid FROM operon.workflow_status WHERE queue_name = 'reads-line' AND status = 'ENQUEUED' ORDER BY queue_priority, queue_seq`);
    expect(rows.map((r) => r.workflow_uuid)).toEqual(['line-b', 'line-late', 'line-a', 'line-c']);
  });

  it('answers 404 for a workflow that does not exist', async () => {
    const { status, body } = await get('/operon/workflows/no-such-workflow');
    expect(status).toBe(404);
    expect(body.error).toBe('no workflow with UUID no-such-workflow exists');
  });
});

describe('GET /operon/workflows/:uuid/steps', () => {
  it('lists every operation from both databases, with its kind, times and outcome', async () => {
    const { status, body } = await get('/operon/workflows/order-2/steps');
    expect(status).toBe(200);
    expect(body.steps).toMatchObject([
      { functionID: 0, functionName: 'Shop.price', kind: 'transaction', output: 6, error: null, childUUID: null },
      { functionID: 1, functionName: 'Shop.charge', kind: 'communicator', output: 'charged 6', error: null },
    ]);
    // Each step's own start, from both databases: after the workflow began, at or before its end, and after the step before ended.
    const begun = Date.parse((await get('/operon/workflows/order-2')).body.createdAt);
    let previousEnd = begun;
    for (const step of body.steps as { startedAt: string; endedAt: string; target: unknown }[]) {
      expect(Date.parse(step.startedAt)).toBeGreaterThanOrEqual(previousEnd);
      expect(Date.parse(step.startedAt)).toBeLessThanOrEqual(Date.parse(step.endedAt));
      expect(step.target).toBeNull();
      previousEnd = Date.parse(step.endedAt);
    }
    const nap = (await get('/operon/workflows/nap-1/steps')).body.steps;
    expect(nap).toMatchObject([{ functionID: 0, kind: 'sleep' }]);
    expect(Date.parse(nap[0].deadline)).toBe(nap[0].output);
    const parent = (await get('/operon/workflows/parent-1/steps')).body.steps;
    expect(parent[0]).toMatchObject({ functionID: 0, kind: 'child', childUUID: expect.any(String) });
  });

  it('gives what each send, recv, setEvent and getEvent addressed, and when each began', async () => {
    const { body } = await get('/operon/workflows/messenger-1/steps');
    expect(body.steps).toMatchObject([
      { functionID: 0, kind: 'send', target: { destinationUUID: 'nobody-1', topic: 'greetings' } },
      { functionID: 1, kind: 'setEvent', target: { key: 'progress' } },
      { functionID: 2, kind: 'deadline', functionName: 'operon.getEvent.deadline', target: { workflowUUID: 'messenger-1', key: 'progress' } },
      { functionID: 3, kind: 'getEvent', output: 1, target: { workflowUUID: 'messenger-1', key: 'progress' } },
      { functionID: 4, kind: 'deadline', functionName: 'operon.recv.deadline', target: { topic: null } },
      { functionID: 5, kind: 'recv', output: null, target: { topic: null } },
    ]);
    for (const step of body.steps as { startedAt: string; endedAt: string }[]) {
      expect(Date.parse(step.startedAt)).toBeLessThanOrEqual(Date.parse(step.endedAt));
    }
    // The timed-out recv began when it was reached and ended after its 50 ms wait.
    const recv = body.steps[5] as { startedAt: string; endedAt: string };
    expect(Date.parse(recv.endedAt) - Date.parse(recv.startedAt)).toBeGreaterThanOrEqual(40);
    // As the database holds them: the detail is the record's own column, next to its start.
    const rows = await query(sysDb, `SELECT function_id, started_at, detail FROM operon.operation_outputs WHERE workflow_uuid = 'messenger-1' ORDER BY function_id`);
    expect(rows.map((r) => JSON.parse(r.detail))).toEqual(body.steps.map((s: { target: unknown }) => s.target));
    expect(rows.every((r) => r.started_at !== null)).toBe(true);
  });
});
