/**
 * The workflow UUID header is echoed in the response and becomes a primary key: bytes outside
 * visible ASCII (which Node reads as Latin-1, so the UUID is not the one the client meant) are a
 * 400 that starts nothing, as is anything that is not a single sane value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
let started = 0;

class Notes {
  @Workflow()
  static async note(_ctx: WorkflowContext): Promise<number> {
    return ++started;
  }

  @PostApi('/notes')
  static async add(ctx: HandlerContext): Promise<number> {
    return (await ctx.invoke(Notes).note()).getResult();
  }
}

let runtime: OperonRuntime;
let app: HttpServer;
beforeAll(async () => {
  runtime = await startRuntime([Notes]);
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

describe('the operon-workflowuuid header', () => {
  it('refuses bytes outside visible ASCII with 400, starting nothing', async () => {
    const res = await app.inject({ method: 'POST', url: '/notes', headers: { 'operon-workflowuuid': Buffer.from('note-é', 'utf8').toString('latin1') } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/^the operon-workflowuuid header must be visible ASCII characters/);
    expect(res.headers['operon-workflowuuid']).toBeUndefined();
    expect(started).toBe(0);
  });

  it('accepts a sane one and sends it back unchanged', async () => {
    const res = await app.inject({ method: 'POST', url: '/notes', headers: { 'operon-workflowuuid': 'note-1' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['operon-workflowuuid']).toBe('note-1');
  });
});
