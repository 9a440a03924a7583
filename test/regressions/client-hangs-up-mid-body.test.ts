/**
 * Regression (found by the chaos harness's HTTP fuzzer, in the server's log): a client that hung up
 * in the middle of its request body made Node report "aborted" (ECONNRESET), and the server logged
 * that as an internal failure, at error level with a stack trace, as if the app had crashed. It is
 * the client's doing: answered (to nobody) as a client error, and not logged as a server error.
 */
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { PostApi, type HandlerContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { captureLogs } from '../helpers/log-capture.js';
import { startRuntime } from '../helpers/test-databases.js';

class Echo {
  @PostApi('/echo')
  static async echo(_ctx: HandlerContext, text: string): Promise<string> {
    return text;
  }
}

let runtime: OperonRuntime | undefined;
let app: Awaited<ReturnType<typeof createHttpServer>> | undefined;
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

describe('a client that hangs up in the middle of its request body', () => {
  it('is not logged as a failure of the server', async () => {
    runtime = await startRuntime([Echo]);
    const logs = captureLogs('info');
    app = await createHttpServer(runtime, { logger: logs.logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };

    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"te');
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(logs.records().filter((record) => (record.level as number) >= 50)).toEqual([]);
    // The server still serves.
    expect((await app.inject({ method: 'POST', url: '/echo', payload: { text: 'hi' } })).body).toBe('hi');
  });
});
