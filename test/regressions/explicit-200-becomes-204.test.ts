/**
 * Regression: a handler's status counted as chosen only when it differed from Fastify's starting
 * 200, so `ctx.reply.code(200)` (or `reply.status(200)`, `reply.statusCode = 200`) followed by no
 * return value answered 204, though a status the handler sets stands (`code(202)` gives 202). A
 * handler answering `code(found ? 200 : 202)` changed its status on one branch only.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GetApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Jobs {
  @GetApi('/jobs/:id')
  static async poll(ctx: HandlerContext, id: string): Promise<void> {
    if (id === 'code') ctx.reply.code(200);
    else if (id === 'status') ctx.reply.status(200);
    else if (id === 'property') (ctx.reply as { statusCode: number }).statusCode = 200;
    else if (id === 'header') ctx.reply.header('cache-control', 'no-store');
    else ctx.reply.code(202);
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;

beforeAll(async () => {
  runtime = await startRuntime([Jobs], testConfig('explicit200'));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

it('answers a 200 the handler set with an empty 200, however it set it', async () => {
  for (const how of ['code', 'status', 'property']) {
    const res = await app.inject({ method: 'GET', url: `/jobs/${how}` });
    expect({ how, status: res.statusCode, body: res.body }).toEqual({ how, status: 200, body: '' });
  }
});

it('still answers 204 when the handler set no status, and the status it set otherwise', async () => {
  const header = await app.inject({ method: 'GET', url: '/jobs/header' });
  expect(header.statusCode).toBe(204);
  expect(header.headers['cache-control']).toBe('no-store');
  expect((await app.inject({ method: 'GET', url: '/jobs/other' })).statusCode).toBe(202);
});
