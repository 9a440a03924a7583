/**
 * Regression: the workflows one request starts were all given the same recorded-request object,
 * so a workflow that changed its `ctx.request` (adding a header, rewriting the URL) changed the
 * request recorded for every workflow the handler started after it: their records, read by
 * `getStatus()`, the management API and their recovered runs, named a request nobody sent. Each
 * workflow now gets its own copy.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Orders {
  @Workflow()
  static async tag(ctx: WorkflowContext): Promise<void> {
    const request = ctx.request as { url: string; headers: Record<string, string> };
    request.url = '/rewritten';
    request.headers['user-agent'] = 'rewritten';
  }

  @Workflow()
  static async place(_ctx: WorkflowContext): Promise<void> {}

  @PostApi('/orders')
  static async order(ctx: HandlerContext): Promise<string> {
    await (await ctx.invoke(Orders).tag()).getResult();
    return (await ctx.invoke(Orders).place()).getWorkflowUUID();
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Orders], testConfig('sharedreq'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

it("records each workflow's request as sent, whatever an earlier workflow of the request did to its own", async () => {
  const res = await app.inject({ method: 'POST', url: '/orders?x=1', headers: { 'user-agent': 'probe' }, payload: {} });
  expect(res.statusCode).toBe(200);
  const status = await runtime.client.retrieveWorkflow(res.body).getStatus();
  expect(status?.request).toMatchObject({ url: '/orders?x=1', headers: { 'user-agent': 'probe' } });
});
