import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Communicator,
  GetApi,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime } from '../helpers/test-databases.js';

const effects = { notified: 0, greeted: 0 };

class Orders {
  @Transaction()
  static async insert(ctx: TransactionContext, item: string): Promise<number> {
    await ctx.client.query('CREATE TABLE IF NOT EXISTS orders (id serial primary key, item text)');
    const { rows } = await ctx.client.query<{ id: number }>('INSERT INTO orders(item) VALUES ($1) RETURNING id', [item]);
    return rows[0]!.id;
  }

  @Communicator()
  static async notify(_ctx: CommunicatorContext, item: string): Promise<string> {
    effects.notified++;
    return `notified ${item}`;
  }

  @Workflow()
  static async place(ctx: WorkflowContext, item: string): Promise<string> {
    const id = await ctx.invoke(Orders).insert(item);
    await ctx.invoke(Orders).notify(item);
    return `order ${id} for ${item} in ${ctx.workflowUUID}`;
  }

  @PostApi('/orders/:item')
  static async placeHandler(ctx: HandlerContext, item: string): Promise<string> {
    const handle = await ctx.invoke(Orders).place(item);
    return handle.getResult();
  }

  /** A transaction, then two workflows: three workflows under one request UUID. */
  @PostApi('/batch')
  static async batch(ctx: HandlerContext, items: string[]): Promise<string[]> {
    const results = [String(await ctx.invoke(Orders).insert('batch'))];
    for (const item of items) results.push(await (await ctx.invoke(Orders).place(item)).getResult());
    return results;
  }

  @PostApi('/explicit')
  static async explicit(ctx: HandlerContext, uuid: string): Promise<string> {
    return (await ctx.invoke(Orders, uuid).place('explicit')).getWorkflowUUID();
  }

  @GetApi('/nothing-started')
  static async nothing(_ctx: HandlerContext): Promise<string> {
    return 'none';
  }

  /** A route that is itself a workflow: it runs under the request's UUID. */
  @PostApi('/greet/:name')
  @Workflow()
  static async greet(_ctx: WorkflowContext, name: string): Promise<string> {
    effects.greeted++;
    return `hello ${name}`;
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Orders]);
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 0 });
});

const countOrders = async (item: string) =>
  Number((await query(runtime.config.database.user_database, 'SELECT count(*) AS n FROM orders WHERE item = $1', [item]))[0].n);

describe('the operon-workflowuuid header', () => {
  it('runs a workflow once for two requests with the same UUID, and both get the same result', async () => {
    const before = effects.notified;
    const headers = { 'operon-workflowuuid': 'order-book-1' };
    const first = await app.inject({ method: 'POST', url: '/orders/book', headers });
    const second = await app.inject({ method: 'POST', url: '/orders/book', headers });
    expect(first.statusCode).toBe(200);
    expect(first.body).toMatch(/^order \d+ for book in order-book-1$/);
    expect(second.body).toBe(first.body);
    expect(first.headers['operon-workflowuuid']).toBe('order-book-1');
    expect(second.headers['operon-workflowuuid']).toBe('order-book-1');
    expect(effects.notified - before).toBe(1);
    expect(await countOrders('book')).toBe(1);
  });

  it('runs concurrent requests with one UUID once', async () => {
    const before = effects.notified;
    const headers = { 'operon-workflowuuid': 'order-pen-1' };
    const responses = await Promise.all(Array.from({ length: 8 }, () => app.inject({ method: 'POST', url: '/orders/pen', headers })));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    expect(effects.notified - before).toBe(1);
    expect(await countOrders('pen')).toBe(1);
  });

  it('names a fresh UUID in the response when the client chose none', async () => {
    const res = await app.inject({ method: 'POST', url: '/orders/cup' });
    const uuid = res.headers['operon-workflowuuid'] as string;
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body).toMatch(new RegExp(`^order \\d+ for cup in ${uuid}$`));
    expect((await app.inject({ method: 'GET', url: '/nothing-started' })).headers['operon-workflowuuid']).toBeUndefined();
  });

  it('gives later workflows of a request derived UUIDs, so a retried request repeats none of them', async () => {
    const headers = { 'operon-workflowuuid': 'batch-1' };
    const first = await app.inject({ method: 'POST', url: '/batch', headers, payload: { items: ['a', 'b'] } });
    const [, a, b] = first.json() as string[];
    expect(a).toMatch(/^order \d+ for a in batch-1~r1$/);
    expect(b).toMatch(/^order \d+ for b in batch-1~r2$/);
    expect(first.headers['operon-workflowuuid']).toBe('batch-1');
    const retried = await app.inject({ method: 'POST', url: '/batch', headers, payload: { items: ['a', 'b'] } });
    expect(retried.json()).toEqual(first.json());
    expect(await countOrders('batch')).toBe(1);
    expect(await countOrders('a')).toBe(1);
  });

  it('lets an explicit UUID in ctx.invoke win, and names it in the response', async () => {
    const res = await app.inject({ method: 'POST', url: '/explicit', headers: { 'operon-workflowuuid': 'ignored' }, payload: { uuid: 'explicit-1' } });
    expect(res.body).toBe('explicit-1');
    expect(res.headers['operon-workflowuuid']).toBe('explicit-1');
  });

  it('runs a route that is itself a workflow under the request UUID, once', async () => {
    const before = effects.greeted;
    const headers = { 'operon-workflowuuid': 'greet-ada' };
    expect((await app.inject({ method: 'POST', url: '/greet/ada', headers })).body).toBe('hello ada');
    expect((await app.inject({ method: 'POST', url: '/greet/ada', headers })).body).toBe('hello ada');
    expect(effects.greeted - before).toBe(1);
    expect((await runtime.client.retrieveWorkflow('greet-ada').getStatus())?.workflowName).toBe('Orders.greet');
  });

  it('records the request with the workflow, without credentials', async () => {
    await app.inject({
      method: 'POST',
      url: '/orders/lamp?src=test',
      headers: { 'operon-workflowuuid': 'order-lamp-1', authorization: 'Bearer secret', cookie: 'session=secret', 'x-request-id': 'req-lamp', 'user-agent': 't1' },
    });
    const status = await runtime.client.retrieveWorkflow('order-lamp-1').getStatus();
    expect(status?.request).toMatchObject({ method: 'POST', url: '/orders/lamp?src=test', requestID: 'req-lamp', headers: { 'user-agent': 't1' } });
    expect(JSON.stringify(status?.request)).not.toMatch(/secret/);
  });

  it('answers a header that is not a sane id with 400, starting nothing', async () => {
    const expected = [/must not be empty/, /must be printable characters without whitespace/, /must be at most 200 characters/, /must not contain "~"/];
    for (const [i, bad] of ['', 'has space', 'x'.repeat(201), 'batch-1~r1'].entries()) {
      const res = await app.inject({ method: 'POST', url: '/orders/bad', headers: { 'operon-workflowuuid': bad } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatch(/^the operon-workflowuuid header /);
      expect(res.json().error).toMatch(expected[i]!);
    }
    const rows = await query(runtime.config.database.user_database, "SELECT to_regclass('orders') IS NOT NULL AS exists");
    if (rows[0].exists) expect(await countOrders('bad')).toBe(0);
  });
});
