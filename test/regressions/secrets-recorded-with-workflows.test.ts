/**
 * Every request header but authorization, proxy-authorization and cookie, and the whole URL with
 * its query string, were recorded with each workflow a request started and returned by
 * `getStatus()`: the docs' own `x-api-key`, and `?access_token=…`, were kept as long as the
 * workflow. Only allow-listed headers are recorded now, and secret-looking query values are redacted.
 */
type FastifyInstance = Awaited<ReturnType<typeof createHttpServer>>;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime } from '../helpers/test-databases.js';

class Orders {
  @Workflow()
  static async place(_ctx: WorkflowContext, item: string): Promise<string> {
    return `placed ${item}`;
  }

  @PostApi('/orders/:item')
  static async order(ctx: HandlerContext, item: string): Promise<unknown> {
    const handle = await ctx.invoke(Orders).place(item);
    await handle.getResult();
    return ctx.retrieveWorkflow(handle.getWorkflowUUID()).getStatus();
  }
}

let runtime: OperonRuntime;
let app: FastifyInstance;
beforeAll(async () => {
  runtime = await startRuntime([Orders]);
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

describe('the request recorded with a workflow', () => {
  it('keeps no credential from the headers or the query string', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/orders/lamp?access_token=tok-123&page=2&X-Amz-Signature=sig-456&api_key=key-789&sig=sas-000&code=oauth-111',
      headers: {
        'x-api-key': 'key-secret',
        'x-session-token': 'session-secret',
        authorization: 'Bearer bearer-secret',
        cookie: 'sid=cookie-secret',
        'user-agent': 'regression-test',
        'x-request-id': 'req-s1',
      },
    });
    expect(res.statusCode).toBe(200);
    const { request } = res.json() as { request: { url: string; headers: Record<string, string>; requestID: string } };
    expect(JSON.stringify(request), JSON.stringify(request)).not.toMatch(/secret|tok-123|sig-456|key-789|sas-000|oauth-111/);
    expect(request.url).toBe('/orders/lamp?access_token=REDACTED&page=2&X-Amz-Signature=REDACTED&api_key=REDACTED&sig=REDACTED&code=REDACTED');
    expect(request.headers).toEqual({ 'user-agent': 'regression-test', 'x-request-id': 'req-s1', host: 'localhost:80' });
    expect(request.requestID).toBe('req-s1');
  });
});
