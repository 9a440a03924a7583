/**
 * Regression: a handler that sends its own reply (`ctx.reply.send(...)`, `ctx.reply.redirect(...)`)
 * must have it left as it is, its return value ignored. Operon told by `reply.sent`, which turns
 * true only once the response is written: behind an asynchronous onSend hook (a class plugin's,
 * such as a compression or signing plugin) it was still false, so Operon sent the return value as
 * a second reply. Fastify then logged "Reply was already sent" and "Cannot write headers after they
 * are sent", and a handler that threw after sending had its error sent as a third. A reply the
 * handler started is now noticed when it starts.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FastifyPlugin, GetApi, type HandlerContext, type HttpReply } from '@operon/sdk';

/** `ctx.reply` is Fastify's reply; the SDK's type names only what most handlers use. */
type SendingReply = HttpReply & { send(payload?: unknown): HttpReply };
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { captureLogs } from '../helpers/log-capture.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

/** A plugin whose onSend hook awaits before passing the payload on, as signing or compressing ones do. */
async function signed(app: any): Promise<void> {
  app.addHook('onSend', async (_request: unknown, reply: { header(name: string, value: string): unknown }, payload: unknown) => {
    await new Promise((resolve) => setImmediate(resolve));
    reply.header('x-signed', 'yes');
    return payload;
  });
}

@FastifyPlugin(signed)
class Pages {
  @GetApi('/early')
  static async early(ctx: HandlerContext): Promise<string> {
    (ctx.reply.code(202) as SendingReply).send('sent by the handler');
    return 'returned';
  }

  @GetApi('/moved')
  static async moved(ctx: HandlerContext): Promise<string> {
    ctx.reply.redirect('/elsewhere', 302);
    return 'returned';
  }

  @GetApi('/then-throws')
  static async thenThrows(ctx: HandlerContext): Promise<void> {
    (ctx.reply as SendingReply).send('sent by the handler');
    throw new Error('failed after replying');
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
const logs = captureLogs('warn');

beforeAll(async () => {
  runtime = await startRuntime([Pages], testConfig('sentTwice'));
  app = await createHttpServer(runtime, { logger: logs.logger });
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

/** After the response, the event loop turns a few times: a second send's hooks run and log by then. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 50));

it('leaves the reply the handler sent as it is, and sends nothing more', async () => {
  const early = await app.inject({ method: 'GET', url: '/early' });
  expect({ status: early.statusCode, body: early.body, signed: early.headers['x-signed'] }).toEqual({ status: 202, body: 'sent by the handler', signed: 'yes' });
  const moved = await app.inject({ method: 'GET', url: '/moved' });
  expect({ status: moved.statusCode, location: moved.headers.location, body: moved.body }).toEqual({ status: 302, location: '/elsewhere', body: '' });
  await settled();
  expect(logs.records().map((line) => line.msg)).toEqual([]);
});

it("logs a handler's error after it replied, once, and sends nothing more", async () => {
  const res = await app.inject({ method: 'GET', url: '/then-throws' });
  expect({ status: res.statusCode, body: res.body }).toEqual({ status: 200, body: 'sent by the handler' });
  await settled();
  const lines = logs.records().filter((line) => line.requestID === res.headers['x-request-id']);
  expect(lines.map((line) => line.level)).toEqual([50]);
  expect((lines[0]!.err as { message: string }).message).toBe('failed after replying');
});
