import type { WorkflowHandle } from '@operon/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { OperonSerializationError, OperonShutdownError, Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { invokeByName, query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { until } from './messaging-helpers.js';

class Mail {
  @Workflow()
  static async pinger(ctx: WorkflowContext, peer: string, rounds: number): Promise<(number | null)[]> {
    const replies: (number | null)[] = [];
    for (let i = 0; i < rounds; i++) {
      await ctx.send(peer, i, 'ping');
      replies.push(await ctx.recv<number>('pong', 20));
    }
    return replies;
  }

  @Workflow()
  static async ponger(ctx: WorkflowContext, peer: string, rounds: number): Promise<number> {
    let sum = 0;
    for (let i = 0; i < rounds; i++) {
      const n = (await ctx.recv<number>('ping', 20))!;
      sum += n;
      await ctx.send(peer, n * 10, 'pong');
    }
    return sum;
  }

  /** Receives once per entry of `topics` (null: the default topic). */
  @Workflow()
  static async receiver(ctx: WorkflowContext, topics: (string | null)[], timeoutSeconds: number): Promise<unknown[]> {
    const got: unknown[] = [];
    for (const topic of topics) got.push(await ctx.recv(topic ?? undefined, timeoutSeconds));
    return got;
  }

  @Workflow()
  static async timedRecv(ctx: WorkflowContext, timeoutSeconds: number): Promise<{ value: unknown; waitedMs: number }> {
    const started = Date.now();
    const value = await ctx.recv('never', timeoutSeconds);
    return { value, waitedMs: Date.now() - started };
  }

  @Workflow()
  static async sendThenWait(ctx: WorkflowContext, destination: string): Promise<unknown> {
    await ctx.send(destination, 'exactly once');
    return ctx.recv('go', 30);
  }

  @Workflow()
  static async sendBad(ctx: WorkflowContext, destination: string): Promise<void> {
    await ctx.send(destination, { amount: 10n, receipt: Symbol("receipt") });
  }
}

const runtimes: OperonRuntime[] = [];
async function runtime(config = testConfig('msg')): Promise<OperonRuntime> {
  const rt = await startRuntime([Mail], config);
  runtimes.push(rt);
  return rt;
}
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 })));
});

function start(rt: OperonRuntime, name: string, args: unknown[], workflowUUID?: string) {
  return invokeByName<WorkflowHandle<unknown>>(rt, Mail, name, args, { workflowUUID });
}

async function countMessages(rt: OperonRuntime, destination: string): Promise<number> {
  const rows = await query(rt.config.database.system_database, 'SELECT count(*)::int AS n FROM operon.notifications WHERE destination_uuid = $1', [destination]);
  return rows[0].n;
}

describe('send and recv', () => {
  it('plays 100 rounds of ping-pong between two workflows, in order, each message exactly once', async () => {
    const rt = await runtime();
    const rounds = 100;
    const started = Date.now();
    const [ping, pong] = await Promise.all([start(rt, 'pinger', ['pong-wf', rounds], 'ping-wf'), start(rt, 'ponger', ['ping-wf', rounds], 'pong-wf')]);
    const [replies, sum] = await Promise.all([ping.getResult(), pong.getResult()]);
    console.log(`ping-pong: ${rounds} round trips in ${Date.now() - started} ms`);
    expect(replies).toEqual(Array.from({ length: rounds }, (_, i) => i * 10));
    expect(sum).toBe((rounds * (rounds - 1)) / 2);
    const sys = rt.config.database.system_database;
    expect(await query(sys, 'SELECT count(*)::int AS n FROM operon.notifications')).toEqual([{ n: 0 }]);
    const ops = await query(sys, `SELECT function_name, count(*)::int AS n FROM operon.operation_outputs
      WHERE workflow_uuid = 'ping-wf' GROUP BY 1 ORDER BY 1`);
    expect(ops).toEqual([
      { function_name: 'operon.recv', n: rounds },
      { function_name: 'operon.recv.deadline', n: rounds },
      { function_name: 'operon.send', n: rounds },
    ]);
    // The ids each call takes: send 1, recv 2 (deadline, then message).
    const ids = await query(sys, `SELECT function_id, function_name FROM operon.operation_outputs
      WHERE workflow_uuid = 'ping-wf' AND function_id < 3 ORDER BY 1`);
    expect(ids).toEqual([
      { function_id: 0, function_name: 'operon.send' },
      { function_id: 1, function_name: 'operon.recv.deadline' },
      { function_id: 2, function_name: 'operon.recv' },
    ]);
  });

  it('keeps messages sent before the recipient exists, and hands them out oldest first', async () => {
    const rt = await runtime();
    for (const n of [1, 2, 3]) await rt.messaging.send('later-wf', n);
    await rt.messaging.send('nobody-ever', 'kept');
    expect(await countMessages(rt, 'later-wf')).toBe(3);
    const handle = await start(rt, 'receiver', [[null, null, null], 5], 'later-wf');
    expect(await handle.getResult()).toEqual([1, 2, 3]);
    expect(await countMessages(rt, 'later-wf')).toBe(0);
    expect(await countMessages(rt, 'nobody-ever')).toBe(1);
  });

  it('keeps the default topic apart from every named topic, and refuses an empty one', async () => {
    const rt = await runtime();
    const send = rt.messaging.send.bind(rt.messaging);
    await send('topics-wf', 'default');
    await expect(send('topics-wf', 'empty', '')).rejects.toMatchObject({ code: 'OPERON_ERR_INVALID_IDENTIFIER' });
    await send('topics-wf', 'news', 'news');
    await send('topics-wf', 'null-string', 'null');
    const handle = await start(rt, 'receiver', [['news', 'null', null, 'news', null], 0.3], 'topics-wf');
    expect(await handle.getResult()).toEqual(['news', 'null-string', 'default', null, null]);
  });

  it('delivers a send with an idempotency key once, even after it was received and under concurrent sends', async () => {
    const rt = await runtime();
    const send = () => rt.messaging.send('idem-wf', { order: 7 }, 'orders', 'order-7');
    await Promise.all(Array.from({ length: 8 }, send));
    expect(await countMessages(rt, 'idem-wf')).toBe(1);
    const handle = await start(rt, 'receiver', [['orders'], 5], 'idem-wf');
    expect(await handle.getResult()).toEqual([{ order: 7 }]);
    await send();
    expect(await countMessages(rt, 'idem-wf')).toBe(0);
    // Without a key every send delivers.
    await rt.messaging.send('idem-wf', 1);
    await rt.messaging.send('idem-wf', 1);
    expect(await countMessages(rt, 'idem-wf')).toBe(2);
  });

  it('rejects a message that cannot be stored, and a topic that is not a string, before storing anything', async () => {
    const rt = await runtime();
    await expect(rt.messaging.send('bad-wf', { amount: 10n, onDone: () => 1 })).rejects.toMatchObject({
      code: 'OPERON_ERR_VALUE_NOT_SERIALIZABLE',
      path: 'message.onDone',
    });
    await expect(rt.messaging.send('bad-wf', [new WeakMap()])).rejects.toThrow(/message\[0\] is a WeakMap, which cannot be stored/);
    await expect(rt.messaging.send('bad-wf', () => 1)).rejects.toBeInstanceOf(OperonSerializationError);
    await expect(rt.messaging.send('bad-wf', 'x', 42 as never)).rejects.toMatchObject({
      code: 'OPERON_ERR_INVALID_IDENTIFIER',
      message: 'send: topic must be a string, got a number',
    });
    await expect(rt.messaging.send('', 'x')).rejects.toMatchObject({ code: 'OPERON_ERR_INVALID_IDENTIFIER' });
    const error = await (await start(rt, 'sendBad', ['bad-wf'], 'send-bad')).getResult().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperonSerializationError);
    expect(await countMessages(rt, 'bad-wf')).toBe(0);
    const records = await query(rt.config.database.system_database, "SELECT 1 FROM operon.operation_outputs WHERE workflow_uuid = 'send-bad'");
    expect(records).toEqual([]);
  });

  it('returns null when recv times out, within a small margin of the timeout', async () => {
    const rt = await runtime();
    const results = await Promise.all(
      [0, 0.5, 1.5].map(async (seconds) => (await (await start(rt, 'timedRecv', [seconds])).getResult()) as { value: unknown; waitedMs: number }),
    );
    for (const [i, seconds] of [0, 0.5, 1.5].entries()) {
      expect(results[i]!.value).toBeNull();
      expect(results[i]!.waitedMs).toBeGreaterThanOrEqual(seconds * 1000 - 5);
      expect(results[i]!.waitedMs).toBeLessThan(seconds * 1000 + 1500);
    }
  });

  it('does not deliver a workflow send twice when the workflow runs again, and a stopped wait leaves the workflow PENDING', async () => {
    const config = testConfig('rerun');
    const first = await startRuntime([Mail], config);
    await start(first, 'sendThenWait', ['rerun-dest'], 'rerun-wf');
    await until('the first run to wait in recv', () => first.messaging.waitingCount === 1);
    // A second runtime recovers the PENDING workflow and runs it again: its send replays.
    const second = await runtime(config);
    await until('the second run to wait in recv', () => second.messaging.waitingCount === 1);
    expect(await countMessages(second, 'rerun-dest')).toBe(1);
    const interrupted = first.client.retrieveWorkflow('rerun-wf').getResult().catch((e: unknown) => e);
    await first.destroy({ timeoutMs: 5_000 });
    expect(await interrupted).toBeInstanceOf(OperonShutdownError);
    const [status] = await query(config.database.system_database, "SELECT status, error FROM operon.workflow_status WHERE workflow_uuid = 'rerun-wf'");
    expect(status).toEqual({ status: 'PENDING', error: null });
    await second.messaging.send('rerun-wf', 'now', 'go');
    expect(await second.client.retrieveWorkflow('rerun-wf').getResult()).toBe('now');
    expect(await countMessages(second, 'rerun-dest')).toBe(1);
  });
});
