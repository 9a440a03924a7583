/**
 * `WorkflowContext.request`: the request that started the workflow, as recorded with it, also in
 * a run recovered by the next runtime (a restart in this process, the first stopped mid-wait).
 */
import { expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Orders {
  @Workflow()
  static async place(ctx: WorkflowContext, wait: boolean): Promise<object> {
    if (wait) await ctx.recv('go', 30);
    return { request: ctx.request, user: ctx.authenticatedUser };
  }

  @PostApi('/orders')
  static async order(ctx: HandlerContext, wait: boolean): Promise<string> {
    const handle = await ctx.invoke(Orders).place(wait);
    return handle.getWorkflowUUID();
  }
}

it('is the recorded request in the first run and in a recovered one; null without a request', async () => {
  const config = testConfig('wfreq');
  const first = await startRuntime([Orders], config);
  const app = await createHttpServer(first);
  const headers = { 'x-request-id': 'req-wf-1', authorization: 'Bearer secret', 'user-agent': 'probe' };
  const quick = await app.inject({ method: 'POST', url: '/orders?token=hidden', headers, payload: { wait: false } });
  const recorded = ((await first.client.retrieveWorkflow(quick.body).getResult()) as { request: Record<string, unknown> }).request;
  expect(recorded).toMatchObject({ method: 'POST', requestID: 'req-wf-1', headers: { 'user-agent': 'probe' } });
  expect(JSON.stringify(recorded)).not.toMatch(/secret|hidden/);

  const waiting = await app.inject({ method: 'POST', url: '/orders', headers: { ...headers, 'x-request-id': 'req-wf-2' }, payload: { wait: true } });
  await app.close();
  await first.destroy({ timeoutMs: 0 });
  const second = await startRuntime([Orders], config);
  try {
    await second.client.send(waiting.body, 'now', 'go');
    const after = (await second.client.retrieveWorkflow(waiting.body).getResult()) as { request: Record<string, unknown> };
    expect(after.request).toMatchObject({ method: 'POST', url: '/orders', requestID: 'req-wf-2' });
    const direct = await second.client.invoke(Orders, {}).place(false);
    expect(((await direct.getResult()) as { request: unknown }).request).toBeNull();
  } finally {
    await second.destroy();
  }
});
