import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Traced {
  @Transaction()
  static async read(ctx: TransactionContext): Promise<number> {
    ctx.span.setAttribute('app.note', 'inside the transaction');
    return (await ctx.client.query<{ n: number }>('SELECT 41 AS n')).rows[0]!.n;
  }
  @Communicator({ retriesAllowed: false })
  static async fail(_ctx: CommunicatorContext): Promise<void> {
    throw new Error('remote said no');
  }
  @Workflow()
  static async flow(ctx: WorkflowContext): Promise<number> {
    const n = await ctx.invoke(Traced).read();
    await ctx.invoke(Traced).fail().catch(() => undefined);
    return n + 1;
  }
}

let receiver: OtlpReceiver;
let runtime: OperonRuntime;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  runtime = await startRuntime([Traced], testConfig('traces', { telemetry: { logs: { logLevel: 'warn' }, traces: { enabled: true, endpoint: receiver.endpoint } } }));
});
afterAll(() => receiver.close());

describe('workflow and operation spans', () => {
  it('exports one span per workflow and operation, parented under the incoming trace', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parentId = 'b7ad6b7169203331';
    const parentSpan = runtime.tracing.extract({ traceparent: `00-${traceId}-${parentId}-01` });
    const handle = await runtime.client.invoke(Traced, { workflowUUID: 'traced-1', parentSpan }).flow();
    expect(await handle.getResult()).toBe(42);
    await runtime.destroy(); // flushes the exporter
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const workflow = spans.find((s) => s.name === 'Traced.flow')!;
    const read = spans.find((s) => s.name === 'Traced.read')!;
    const fail = spans.find((s) => s.name === 'Traced.fail')!;
    expect(spans).toHaveLength(3);
    expect(workflow.parentSpanId).toBe(parentId);
    expect(workflow.attributes).toMatchObject({ 'operon.workflow_uuid': 'traced-1', 'operon.operation_type': 'workflow' });
    expect(read.parentSpanId).toBe(workflow.spanId);
    expect(read.attributes).toMatchObject({ 'operon.function_id': 0, 'operon.operation_type': 'transaction', 'app.note': 'inside the transaction' });
    expect(fail.parentSpanId).toBe(workflow.spanId);
    expect(fail.status).toMatchObject({ code: 2, message: 'remote said no' });
    expect(workflow.status.code).toBe(1);
  });
});
