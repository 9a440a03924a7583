import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime } from '../helpers/test-databases.js';

let runs = 0;

class Greetings {
  @Workflow()
  static async greet(ctx: WorkflowContext, name: string): Promise<string> {
    runs++;
    return `hello ${name} (${ctx.workflowUUID})`;
  }

  @PostApi('/greet/:name')
  static async greetHandler(ctx: HandlerContext, name: string, punctuation = '!'): Promise<{ greeting: string }> {
    const handle = await ctx.invoke(Greetings).greet(name);
    return { greeting: (await handle.getResult()) + punctuation };
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
let base: string;

beforeAll(async () => {
  runtime = await startRuntime([Greetings]);
  app = await createHttpServer(runtime);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  base = address;
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 0 });
});

describe('over a real socket', () => {
  it('serves a handler, the workflow UUID header and the request id over HTTP', async () => {
    const post = () =>
      fetch(`${base}/greet/ada`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'operon-workflowuuid': 'socket-ada', 'x-request-id': 'sock-1' },
        body: JSON.stringify({ punctuation: '?' }),
      });
    const first = await post();
    expect(first.status).toBe(200);
    expect(first.headers.get('operon-workflowuuid')).toBe('socket-ada');
    expect(first.headers.get('x-request-id')).toBe('sock-1');
    expect(await first.json()).toEqual({ greeting: 'hello ada (socket-ada)?' });
    const second = await post();
    expect(await second.json()).toEqual({ greeting: 'hello ada (socket-ada)?' });
    expect(runs).toBe(1);
  });

  it('answers malformed JSON, an unknown route and health over HTTP', async () => {
    const bad = await fetch(`${base}/greet/ada`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^malformed JSON in the request body/);
    const missing = await fetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    const health = await fetch(`${base}/operon/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', state: 'running' });
  });
});
