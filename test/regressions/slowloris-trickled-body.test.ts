/**
 * Fastify's requestTimeout defaults to 0 (none): a client that trickled its body a byte at a time
 * held a connection open for as long as it liked (12 s and more in the report), and enough such
 * clients exhaust the server. `runtimeConfig.requestTimeoutMs` (default 30 s) now bounds how long
 * a client may take to send a request; a slower one gets 408 and its connection is closed.
 */
import { connect } from 'node:net';
type FastifyInstance = Awaited<ReturnType<typeof createHttpServer>>;
import { afterAll, describe, expect, it } from 'vitest';
import { PostApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Upload {
  @PostApi('/upload')
  static async upload(_ctx: HandlerContext, data: string): Promise<number> {
    return data.length;
  }
}

const opened: { runtime: OperonRuntime; app: FastifyInstance }[] = [];
afterAll(async () => {
  for (const { runtime, app } of opened) {
    await app.close();
    await runtime.destroy();
  }
});

async function serve(runtimeConfig: Record<string, unknown>): Promise<{ app: FastifyInstance; port: number }> {
  const runtime = await startRuntime([Upload], testConfig('slowloris', { runtimeConfig }));
  const app = await createHttpServer(runtime);
  opened.push({ runtime, app });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as { port: number }).port };
}

describe('a client that trickles its request', () => {
  it('has a bounded request time by default', async () => {
    const { app } = await serve({});
    expect(app.server.requestTimeout).toBe(30_000);
    expect(app.server.headersTimeout).toBeLessThanOrEqual(30_000);
  });

  it('is answered 408 and cut off once requestTimeoutMs has passed', async () => {
    const { port } = await serve({ requestTimeoutMs: 1_000 });
    const socket = connect({ host: '127.0.0.1', port });
    const started = Date.now();
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const body = JSON.stringify({ data: 'x'.repeat(40) });
    socket.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    // One byte every 200 ms: the whole body would take about 10 s.
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
    }, 200);
    const elapsed = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 6_000))]);
    clearInterval(trickle);
    socket.destroy();
    expect(elapsed, 'the server kept the trickling connection open for 6 s').toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(4_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});
