/**
 * A class's `@fastify/cors` answered preflights for any path its routes' patterns matched,
 * whatever the method: a class serving `POST /:kind/:id` answered, with its own CORS policy, the
 * preflights of `/operon/*`, of a plain class's `GET /plain/1`, and of another class's `GET` on
 * the same path. A preflight now belongs to the class whose route has that path and the method
 * the preflight asks for, and never to a class for `/operon/*`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import cors from '@fastify/cors';
import { FastifyPlugin, GetApi, PostApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

@FastifyPlugin(cors, { origin: 'https://writer.example' })
class Writer {
  @PostApi('/:kind/:id')
  static async write(_ctx: HandlerContext, kind: string, id: string): Promise<string> {
    return `${kind} ${id}`;
  }
}

@FastifyPlugin(cors, { origin: 'https://reader.example' })
class Reader {
  @GetApi('/:kind/:id')
  static async read(_ctx: HandlerContext, kind: string, id: string): Promise<string> {
    return `${kind} ${id}`;
  }
}

class Plain {
  @GetApi('/plain/:n')
  static async plain(_ctx: HandlerContext, n: string): Promise<string> {
    return n;
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
beforeAll(async () => {
  runtime = await startRuntime([Writer, Reader, Plain], testConfig('rev_preflight', { telemetry: { logs: { logLevel: 'fatal' } } }));
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

const preflight = (url: string, method: string, origin: string) =>
  app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': method } });

it('answers a preflight with the policy of the class serving that path and method', async () => {
  const write = await preflight('/orders/1', 'POST', 'https://writer.example');
  expect(write.headers['access-control-allow-origin']).toBe('https://writer.example');
  const read = await preflight('/orders/1', 'GET', 'https://reader.example');
  expect(read.statusCode).toBe(204);
  expect(read.headers['access-control-allow-origin']).toBe('https://reader.example');
});

it("leaves /operon/* and other classes' preflights unanswered", async () => {
  for (const [url, method] of [['/operon/health', 'GET'], ['/operon/workflows', 'POST'], ['/plain/1', 'GET']] as const) {
    const res = await preflight(url, method, 'https://writer.example');
    expect(res.headers['access-control-allow-origin'], `${method} ${url}`).toBeUndefined();
    expect(res.statusCode, `${method} ${url}`).toBe(404);
  }
});
