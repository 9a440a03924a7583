/**
 * Regression: the request recorded with a workflow redacts the values of secret-looking query
 * parameters, but the list missed some credentials' own names: `?authorization=Bearer …` (how
 * browser WebSocket and EventSource clients, which cannot set headers, pass a token), `?bearer=`,
 * `?pass=` and `?sid=` were stored as sent, in the system database for the workflow's lifetime.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GetApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Streams {
  @Workflow()
  static async open(_ctx: WorkflowContext): Promise<void> {}

  @GetApi('/stream')
  static async stream(ctx: HandlerContext): Promise<string> {
    return (await ctx.invoke(Streams).open()).getWorkflowUUID();
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Streams], testConfig('authquery'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

it('redacts authorization, bearer, pass and sid query parameters in the recorded URL', async () => {
  const url = '/stream?authorization=Bearer%20S1&Authorization=S2&bearer=S3&pass=S4&sid=S5&page=2';
  const res = await app.inject({ method: 'GET', url });
  expect(res.statusCode).toBe(200);
  const status = await runtime.client.retrieveWorkflow(res.body).getStatus();
  expect((status?.request as { url?: string } | null | undefined)?.url).toBe('/stream?authorization=REDACTED&Authorization=REDACTED&bearer=REDACTED&pass=REDACTED&sid=REDACTED&page=2');
});
