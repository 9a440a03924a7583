/**
 * Regression: UUIDs the runtime derives lived in the same namespace as the ones clients choose. A
 * client that pre-started `order-42-0` had its workflow adopted as the child of `order-42` (the
 * real child never ran); a client's `job-7-0` of another function made parent `job-7` fail with
 * 409; and a client starting `req-9.1` got the result of the second workflow of request `req-9`.
 * Derived UUIDs now live where no client-chosen UUID can reach.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

const shipped: string[] = [];

class Orders {
  @Workflow()
  static async ship(_ctx: WorkflowContext, parcel: string): Promise<string> {
    shipped.push(parcel);
    return `shipped ${parcel}`;
  }

  @Workflow()
  static async order(ctx: WorkflowContext, parcel: string): Promise<string> {
    return `order: ${await ctx.invokeChildWorkflow(Orders).ship(parcel)}`;
  }

  @Workflow()
  static async job(ctx: WorkflowContext, parcel: string): Promise<string> {
    const child = await ctx.startChildWorkflow(Orders).ship(parcel);
    return `job: ${await child.getResult()}`;
  }

  @Workflow()
  static async other(_ctx: WorkflowContext, label: string): Promise<string> {
    return `other ${label}`;
  }

  @Workflow()
  static async first(_ctx: WorkflowContext, x: string): Promise<string> {
    return `first ${x}`;
  }

  @Workflow()
  static async second(_ctx: WorkflowContext, x: string): Promise<string> {
    return `second ${x}`;
  }

  /** Starts two workflows: under header UUID `U`, the first is `U`; the second's UUID is derived. */
  @PostApi('/two')
  static async two(ctx: HandlerContext, a: string, b: string): Promise<{ first: string; second: string }> {
    const first = await ctx.invoke(Orders).first(a);
    const second = await ctx.invoke(Orders).second(b);
    return { first: await first.getResult(), second: await second.getResult() };
  }

  @PostApi('/second')
  static async secondOnly(ctx: HandlerContext, x: string): Promise<string> {
    return (await ctx.invoke(Orders).second(x)).getResult();
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('derived');
  testRuntime = await createTestingRuntime([Orders], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

const result = <T>(handle: Promise<{ getResult(): Promise<T> }>) => handle.then((h) => within(h.getResult(), 10_000, 'no result after 10 s'));

describe('a client-chosen UUID shaped like a derived one', () => {
  it('a pre-started `order-42-0` of the child’s function is not adopted as the child of `order-42`', async () => {
    expect(await result(testRuntime!.invoke(Orders, 'order-42-0').ship('client parcel'))).toBe('shipped client parcel');
    shipped.length = 0;

    expect(await result(testRuntime!.invoke(Orders, 'order-42').order('parent parcel'))).toBe('order: shipped parent parcel');
    // The child ran: its side effect happened.
    expect(shipped).toEqual(['parent parcel']);
    expect(await result(Promise.resolve(testRuntime!.retrieveWorkflow('order-42-0')))).toBe('shipped client parcel');
  });

  it('a `job-7-0` of another function does not make parent `job-7` fail with a conflict', async () => {
    expect(await result(testRuntime!.invoke(Orders, 'job-7-0').other('client'))).toBe('other client');
    shipped.length = 0;

    const parent = await testRuntime!.invoke(Orders, 'job-7').job('job parcel');
    const outcome = await within(parent.getResult().catch((error: { code?: string; message?: string }) => `rejected: ${error.code ?? error.message}`), 10_000, 'no result after 10 s');
    expect(outcome).toBe('job: shipped job parcel');
    expect(shipped).toEqual(['job parcel']);
    expect((await parent.getStatus())?.status).toBe('SUCCESS');
  });

  it('a client starting `req-9.1` does not get the second workflow of request `req-9`', async () => {
    const request = await testRuntime!.inject({ method: 'POST', url: '/two', headers: { 'operon-workflowuuid': 'req-9' }, payload: { a: 'a', b: 'request secret' } });
    expect(request.statusCode).toBe(200);
    expect(request.json()).toEqual({ first: 'first a', second: 'second request secret' });

    const client = await testRuntime!.inject({ method: 'POST', url: '/second', headers: { 'operon-workflowuuid': 'req-9.1' }, payload: { x: 'mine' } });
    expect(client.statusCode).toBe(200);
    expect(client.body).toBe('second mine');
    expect(client.body).not.toContain('request secret');
  });

  it('a request `req-10` does not get the result of a client’s `req-10.1`', async () => {
    expect(await result(testRuntime!.invoke(Orders, 'req-10.1').second('client secret'))).toBe('second client secret');

    const request = await testRuntime!.inject({ method: 'POST', url: '/two', headers: { 'operon-workflowuuid': 'req-10' }, payload: { a: 'a', b: 'from the request' } });
    expect(request.statusCode).toBe(200);
    expect(request.json()).toEqual({ first: 'first a', second: 'second from the request' });
  });
});
