/**
 * `GET /operon/metrics` serves Prometheus text: workflows started and ended by name and status,
 * operation latencies by kind, workflows recovered, executors alive, queue depths; under management access (every
 * role's answer is in access.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Transaction, Workflow, WorkflowQueue, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, managementAccess, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

class Metered {
  @Transaction()
  static async add(ctx: TransactionContext, a: number, b: number): Promise<number> {
    const { rows } = await ctx.client.query<{ sum: number }>('SELECT $1::int + $2::int AS sum', [a, b]);
    return rows[0]!.sum;
  }

  @Communicator()
  static async echo(_ctx: CommunicatorContext, text: string): Promise<string> {
    return text;
  }

  @Workflow()
  static async child(ctx: WorkflowContext): Promise<string> {
    return ctx.invoke(Metered).echo('child');
  }

  @Workflow()
  static async parent(ctx: WorkflowContext): Promise<number> {
    const sum = await ctx.invoke(Metered).add(1, 2);
    await ctx.invoke(Metered).echo('hello');
    await ctx.invokeChildWorkflow(Metered).child();
    await ctx.sleep(0.01);
    return sum;
  }

  @Workflow()
  static async fails(_ctx: WorkflowContext): Promise<void> {
    throw new Error('on purpose');
  }

  @Workflow()
  static async parks(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('never', 30);
  }
}

const oneAtATime = new WorkflowQueue('metrics-one-at-a-time', { concurrency: 1 });

/** The value of one sample line (`name{labels} value`), or undefined when the line is absent. */
function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const config = testConfig('metrics');
let runtime: OperonRuntime;

beforeAll(async () => {
  // A first run leaves one parked workflow; the restart below recovers it.
  const first = await startRuntime([Metered], config);
  await first.client.invoke(Metered, { workflowUUID: 'metrics-parked' }).parks();
  await first.destroy({ timeoutMs: 100 });
  runtime = await startRuntime([Metered], config);
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 100 });
});

describe('GET /operon/metrics', () => {
  it('counts starts, ends, operation latencies by kind, recoveries and live executors', async () => {
    expect(await (await runtime.client.invoke(Metered).parent()).getResult()).toBe(3);
    await expect((await runtime.client.invoke(Metered).fails()).getResult()).rejects.toThrow('on purpose');
    // One of the queue's two parked workflows runs, the other waits for its slot.
    for (const n of [1, 2]) await runtime.client.invoke(Metered, { workflowUUID: `metrics-queued-${n}`, queue: { queue: oneAtATime } }).parks();
    await expect.poll(async () => (await runtime.systemDb.queueDepths()).length, { timeout: 30_000 }).toBe(2);
    const app = await createHttpServer(runtime);
    try {
      const authorization = `Bearer ${managementAccess(runtime).token}`;
      const response = await app.inject({ method: 'GET', url: '/operon/metrics', headers: { authorization } });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.body;
      expect(sample(text, 'operon_workflows_started_total{name="Metered.parent"}')).toBe(1);
      expect(sample(text, 'operon_workflows_started_total{name="Metered.child"}')).toBe(1);
      expect(sample(text, 'operon_workflows_ended_total{name="Metered.parent",status="SUCCESS"}')).toBe(1);
      expect(sample(text, 'operon_workflows_ended_total{name="Metered.child",status="SUCCESS"}')).toBe(1);
      expect(sample(text, 'operon_workflows_ended_total{name="Metered.fails",status="ERROR"}')).toBe(1);
      // The first runtime started the parked workflow (this one only recovered it); this one started
      // the queue's first when it took it from the queue, not the second, still waiting.
      expect(sample(text, 'operon_workflows_started_total{name="Metered.parks"}')).toBe(1);
      expect(sample(text, 'operon_workflows_recovered_total')).toBe(1);
      // parent: one transaction, one communicator, one child start, one sleep; child: one communicator.
      expect(sample(text, 'operon_operation_duration_seconds_count{kind="transaction"}')).toBe(1);
      expect(sample(text, 'operon_operation_duration_seconds_count{kind="communicator"}')).toBe(2);
      expect(sample(text, 'operon_operation_duration_seconds_count{kind="child"}')).toBe(1);
      expect(sample(text, 'operon_operation_duration_seconds_count{kind="sleep"}')).toBe(1);
      // The parked one's recv deadline was recorded by the first runtime, not here.
      expect(sample(text, 'operon_operation_duration_seconds_count{kind="recv"}')).toBeUndefined();
      expect(sample(text, 'operon_operation_duration_seconds_sum{kind="transaction"}')).toBeGreaterThan(0);
      // This runtime's executor (the first one stopped); 0 only if a loaded machine let its lease lapse.
      expect([0, 1]).toContain(sample(text, 'operon_executors_alive'));
      expect(sample(text, 'operon_workflows_fenced_total')).toBe(0);
      expect(sample(text, 'operon_queue_workflows{queue="metrics-one-at-a-time",status="PENDING"}')).toBe(1);
      expect(sample(text, 'operon_queue_workflows{queue="metrics-one-at-a-time",status="ENQUEUED"}')).toBe(1);

      const anonymous = await app.inject({ method: 'GET', url: '/operon/metrics' });
      expect(anonymous.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});
