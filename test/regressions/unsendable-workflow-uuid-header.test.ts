/**
 * Regression: a handler may start a workflow under a UUID it takes from the request body, and any
 * printable characters are a valid UUID. The response named it in `operon-workflowuuid`, but a
 * header carries bytes: a UUID with a character beyond Latin-1 (`x€`) made Node refuse the header,
 * so the client got Fastify's own 500 body (`"code":"ERR_INVALID_CHAR"` and Node's message) for a
 * workflow that had completed, and one within Latin-1 (`café`) went out as other bytes than the
 * client sent. The header now names only UUIDs of visible ASCII, the form the request header takes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime } from '../helpers/test-databases.js';

class Orders {
  @Workflow()
  static async place(ctx: WorkflowContext): Promise<string> {
    return `placed ${ctx.workflowUUID}`;
  }

  @PostApi('/orders')
  static async post(ctx: HandlerContext, orderId: string): Promise<string> {
    return (await ctx.invoke(Orders, orderId).place()).getResult();
  }
}

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
let base: string;
beforeAll(async () => {
  runtime = await startRuntime([Orders]);
  app = await createHttpServer(runtime);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

async function order(orderId: string) {
  const res = await fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ orderId }) });
  return { status: res.status, uuid: res.headers.get('operon-workflowuuid'), body: await res.text() };
}

describe('a workflow UUID chosen in the body', () => {
  it('beyond Latin-1: the result is answered, without the header', async () => {
    expect(await order('order-x€')).toEqual({ status: 200, uuid: null, body: 'placed order-x€' });
  });

  it('within Latin-1 but not ASCII: not sent as other bytes', async () => {
    expect(await order('order-café')).toEqual({ status: 200, uuid: null, body: 'placed order-café' });
  });

  it('of visible ASCII: named in the header as before', async () => {
    expect(await order('order-42')).toEqual({ status: 200, uuid: 'order-42', body: 'placed order-42' });
  });
});
