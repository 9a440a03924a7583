/**
 * Handler spans, exported to a real OTLP/HTTP receiver: one span per request, a child of the
 * incoming W3C traceparent, parent of the workflows the handler starts (whose operations are
 * their children), with the route, status code and request id; failures carry the error status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Communicator,
  GetApi,
  PostApi,
  RequiredRole,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type OperonSpan,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer } from '@operon/runtime';
import { NOOP_RUNTIME_SPAN } from '../../packages/runtime/src/telemetry/tracing.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

let lastHandlerSpan: OperonSpan | undefined;

class Shop {
  @Transaction()
  static async reserve(ctx: TransactionContext, item: string): Promise<string> {
    return (await ctx.client.query<{ item: string }>('SELECT $1::text AS item', [item])).rows[0]!.item;
  }

  @Communicator()
  static async ship(_ctx: CommunicatorContext, item: string): Promise<string> {
    return `shipped ${item}`;
  }

  @Workflow()
  static async order(ctx: WorkflowContext, item: string): Promise<string> {
    const reserved = await ctx.invoke(Shop).reserve(item);
    return `${reserved}: ${await ctx.invoke(Shop).ship(item)}`;
  }

  @PostApi('/orders/:item')
  static async placeOrder(ctx: HandlerContext, item: string): Promise<string> {
    lastHandlerSpan = ctx.span;
    ctx.span.setAttribute('app.item', item);
    return (await ctx.invoke(Shop).order(item)).getResult();
  }

  @GetApi('/direct/:item')
  static async direct(ctx: HandlerContext, item: string): Promise<string> {
    return ctx.invoke(Shop).reserve(item);
  }

  @GetApi('/broken')
  static async broken(_ctx: HandlerContext): Promise<string> {
    throw new Error('out of stock');
  }

  @GetApi('/refused')
  @RequiredRole(['admin'])
  static async refused(_ctx: HandlerContext): Promise<string> {
    return 'never';
  }

  @PostApi('/typed', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } })
  static async typed(_ctx: HandlerContext, n: number): Promise<number> {
    return n;
  }
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const INCOMING_PARENT = '00f067aa0ba902b7';

let receiver: OtlpReceiver;
const workflowUUIDs: Record<string, string> = {};
/** The `traceparent` header of each response, by request id. */
const traceparents: Record<string, string | undefined> = {};

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  const runtime = await startRuntime([Shop], testConfig('hspans', { telemetry: { logs: { logLevel: 'fatal' }, traces: { enabled: true, endpoint: receiver.endpoint } } }));
  const app = await createHttpServer(runtime);
  const inject = async (options: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; payload?: object }) => {
    const res = await app.inject(options);
    traceparents[options.headers['x-request-id']!] = res.headers['traceparent'] as string | undefined;
    return res;
  };
  try {
    const traced = await inject({
      method: 'POST',
      url: '/orders/book',
      headers: { traceparent: `00-${TRACE_ID}-${INCOMING_PARENT}-01`, 'x-request-id': 'req-span-1' },
    });
    expect(traced.body).toBe('book: shipped book');
    workflowUUIDs['traced'] = traced.headers['operon-workflowuuid'] as string;
    expect((await inject({ method: 'POST', url: '/orders/lamp', headers: { 'x-request-id': 'req-span-2' } })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: '/direct/pen', headers: { 'x-request-id': 'req-span-3' } })).body).toBe('pen');
    expect((await inject({ method: 'GET', url: '/broken', headers: { 'x-request-id': 'req-span-4' } })).statusCode).toBe(500);
    // Anonymous: 401, as 403 is for a caller who said who they are.
    expect((await inject({ method: 'GET', url: '/refused', headers: { 'x-request-id': 'req-span-5' } })).statusCode).toBe(401);
    const invalid = await inject({ method: 'POST', url: '/typed', payload: { n: 'x' }, headers: { 'x-request-id': 'req-span-6' } });
    expect(invalid.statusCode).toBe(400);
  } finally {
    await app.close();
    await runtime.destroy(); // flushes the exporter
  }
});
afterAll(() => receiver.close());

function handlerSpan(requestID: string): ReceivedSpan {
  const found = receiver.spans.filter((s) => s.attributes['operon.request_id'] === requestID);
  expect(found).toHaveLength(1);
  return found[0]!;
}
const childrenOf = (span: ReceivedSpan) => receiver.spans.filter((s) => s.parentSpanId === span.spanId && s.traceId === span.traceId);

describe('handler spans', () => {
  it('form the tree handler → workflow → operations under the incoming traceparent', () => {
    const handler = handlerSpan('req-span-1');
    expect(handler).toMatchObject({ traceId: TRACE_ID, parentSpanId: INCOMING_PARENT, name: 'POST /orders/:item', status: { code: 1 } });
    expect(handler.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/orders/:item',
      'http.response.status_code': 200,
      'operon.request_id': 'req-span-1',
      'operon.operation_type': 'handler',
      'operon.operation_name': 'Shop.placeOrder',
      'operon.inputs': '["book"]',
      'app.item': 'book',
    });
    const [workflow, ...others] = childrenOf(handler);
    expect(others).toEqual([]);
    expect(workflow).toMatchObject({ name: 'Shop.order', status: { code: 1 } });
    expect(workflow!.attributes).toMatchObject({ 'operon.workflow_uuid': workflowUUIDs['traced'], 'operon.operation_type': 'workflow', 'operon.inputs': '["book"]' });
    const operations = childrenOf(workflow!).sort((a, b) => Number(a.attributes['operon.function_id']) - Number(b.attributes['operon.function_id']));
    expect(operations.map((s) => [s.name, s.attributes['operon.function_id'], s.attributes['operon.operation_type'], s.attributes['operon.workflow_uuid']])).toEqual([
      ['Shop.reserve', 0, 'transaction', workflowUUIDs['traced']],
      ['Shop.ship', 1, 'communicator', workflowUUIDs['traced']],
    ]);
    // Every span of the request is in the incoming trace, and nothing else is.
    expect(receiver.spans.filter((s) => s.traceId === TRACE_ID)).toHaveLength(4);
  });

  it("answers every request, refused ones too, with its handler span's traceparent", () => {
    for (const requestID of ['req-span-1', 'req-span-2', 'req-span-3', 'req-span-4', 'req-span-5', 'req-span-6']) {
      const span = handlerSpan(requestID);
      expect(traceparents[requestID], requestID).toBe(`00-${span.traceId}-${span.spanId}-01`);
    }
  });

  it('starts a new trace when the request carries no traceparent', () => {
    const handler = handlerSpan('req-span-2');
    expect(handler.parentSpanId).toBe('');
    expect(handler.traceId).not.toBe(TRACE_ID);
    expect(childrenOf(handler).map((s) => s.name)).toEqual(['Shop.order']);
  });

  it('parents the one-operation workflow of a transaction invoked directly', () => {
    const handler = handlerSpan('req-span-3');
    const [workflow] = childrenOf(handler);
    expect(workflow).toMatchObject({ name: 'Shop.reserve', attributes: { 'operon.operation_type': 'workflow' } });
    expect(childrenOf(workflow!).map((s) => [s.name, s.attributes['operon.operation_type']])).toEqual([['Shop.reserve', 'transaction']]);
  });

  it.each([
    ['req-span-4', 'GET /broken', 500, 'out of stock'],
    ['req-span-5', 'GET /refused', 401, 'Shop.refused requires one of the roles [admin]: the caller is not authenticated'],
    ['req-span-6', 'POST /typed', 400, 'body/n must be integer'],
  ])('marks the span of a failed request (%s) as an error with its status code', (requestID, name, statusCode, message) => {
    const handler = handlerSpan(requestID);
    expect(handler).toMatchObject({ name, status: { code: 2, message } });
    expect(handler.attributes['http.response.status_code']).toBe(statusCode);
  });

  it('gives the handler its own span as ctx.span', () => {
    expect(lastHandlerSpan).not.toBe(NOOP_RUNTIME_SPAN);
  });
});

describe('with tracing off', () => {
  it('gives handlers the shared no-op span', async () => {
    const runtime = await startRuntime([Shop], testConfig('hspansoff'));
    const app = await createHttpServer(runtime);
    try {
      const res = await app.inject({ method: 'POST', url: '/orders/cup', headers: { traceparent: `00-${TRACE_ID}-${INCOMING_PARENT}-01` } });
      expect(res.body).toBe('cup: shipped cup');
      expect(lastHandlerSpan).toBe(NOOP_RUNTIME_SPAN);
    } finally {
      await app.close();
      await runtime.destroy();
    }
  });
});
