import type { WorkflowHandle } from '@operon/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { OperonShutdownError, Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { invokeByName, query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { until } from './messaging-helpers.js';

class Board {
  /** Publishes `status` = 1, then 2 after message 'a', then waits for 'b'. */
  @Workflow()
  static async publisher(ctx: WorkflowContext): Promise<string> {
    await ctx.setEvent('status', 1);
    await ctx.recv('a', 30);
    await ctx.setEvent('status', 2);
    await ctx.recv('b', 30);
    return 'done';
  }

  @Workflow()
  static async progress(ctx: WorkflowContext, steps: number): Promise<void> {
    for (let i = 1; i <= steps; i++) await ctx.setEvent('progress', { step: i, of: steps });
  }

  @Workflow()
  static async gatedSet(ctx: WorkflowContext): Promise<void> {
    await ctx.recv('go', 30);
    await ctx.setEvent('status', 'ready');
  }

  /** Reads an event, then waits for 'go' before returning what it read. */
  @Workflow()
  static async reader(ctx: WorkflowContext, target: string, key: string, timeoutSeconds: number): Promise<unknown> {
    const value = await ctx.getEvent(target, key, timeoutSeconds);
    await ctx.recv('go', 30);
    return value;
  }

  @Workflow()
  static async timedGetEvent(ctx: WorkflowContext, timeoutSeconds: number): Promise<{ value: unknown; waitedMs: number }> {
    const started = Date.now();
    const value = await ctx.getEvent('no-such-wf', 'k', timeoutSeconds);
    return { value, waitedMs: Date.now() - started };
  }

  @Workflow()
  static async sleeper(ctx: WorkflowContext, seconds: number): Promise<number> {
    await ctx.sleep(seconds);
    return Date.now();
  }
}

const runtimes: OperonRuntime[] = [];
async function runtime(config = testConfig('ev')): Promise<OperonRuntime> {
  const rt = await startRuntime([Board], config);
  runtimes.push(rt);
  return rt;
}
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 })));
});

function start(rt: OperonRuntime, name: string, args: unknown[], workflowUUID?: string) {
  return invokeByName<WorkflowHandle<unknown>>(rt, Board, name, args, { workflowUUID });
}

async function records(rt: OperonRuntime, workflowUUID: string): Promise<{ function_id: number; function_name: string; output: string | null }[]> {
  return query(rt.config.database.system_database, 'SELECT function_id, function_name, output FROM operon.operation_outputs WHERE workflow_uuid = $1 ORDER BY 1', [workflowUUID]);
}

describe('events', () => {
  it('returns the latest value: last write wins', async () => {
    const rt = await runtime();
    await (await start(rt, 'progress', [5], 'progress-wf')).getResult();
    expect(await rt.messaging.getEvent('progress-wf', 'progress', 1)).toEqual({ step: 5, of: 5 });
    const rows = await query(rt.config.database.system_database, "SELECT count(*)::int AS n FROM operon.workflow_events WHERE workflow_uuid = 'progress-wf'");
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('wakes a waiting getEvent when the key is set', async () => {
    const rt = await runtime();
    const waiting = rt.messaging.getEvent<string>('gated-wf', 'status', 20);
    await start(rt, 'gatedSet', [], 'gated-wf');
    await until('the getEvent and the workflow to wait', () => rt.messaging.waitingCount === 2);
    const sent = Date.now();
    await rt.messaging.send('gated-wf', null, 'go');
    expect(await waiting).toBe('ready');
    // Woken by the notification, not by the slow poll.
    expect(Date.now() - sent).toBeLessThan(1_000);
  });

  it('returns null when getEvent times out, outside and inside a workflow', async () => {
    const rt = await runtime();
    const started = Date.now();
    expect(await rt.messaging.getEvent('no-such-wf', 'k', 0.5)).toBeNull();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(495);
    expect(waited).toBeLessThan(500 + 1500);
    const inside = (await (await start(rt, 'timedGetEvent', [0.5], 'timed-get')).getResult()) as { value: unknown; waitedMs: number };
    expect(inside.value).toBeNull();
    expect(inside.waitedMs).toBeGreaterThanOrEqual(495);
    expect(inside.waitedMs).toBeLessThan(500 + 1500);
    expect((await records(rt, 'timed-get')).map((r) => [r.function_id, r.function_name, r.output === 'null'])).toEqual([
      [0, 'operon.getEvent.deadline', false],
      [1, 'operon.getEvent', true],
    ]);
  });

  it('replays a recorded getEvent, and a re-run setEvent does not rewind a later value', async () => {
    const config = testConfig('evrerun');
    const first = await runtime(config);
    await start(first, 'publisher', [], 'pub-wf');
    await start(first, 'reader', ['pub-wf', 'status', 10], 'reader-wf');
    await until('the reader to have read status', async () => (await records(first, 'reader-wf')).length >= 2);
    expect((await records(first, 'reader-wf'))[1]).toMatchObject({ function_name: 'operon.getEvent', output: '1' });
    await first.messaging.send('pub-wf', null, 'a');
    await until('status to become 2', async () => (await first.messaging.getEvent('pub-wf', 'status', 0)) === 2);
    const [before] = await query(config.database.system_database, "SELECT updated_at FROM operon.workflow_events WHERE workflow_uuid = 'pub-wf'");
    // Both workflows run again in a second runtime, replaying their records.
    const second = await runtime(config);
    await until('both re-runs to wait', () => second.messaging.waitingCount === 2);
    await first.destroy({ timeoutMs: 5_000 });
    expect(await second.messaging.getEvent('pub-wf', 'status', 0)).toBe(2);
    const [after] = await query(config.database.system_database, "SELECT updated_at FROM operon.workflow_events WHERE workflow_uuid = 'pub-wf'");
    expect(after).toEqual(before);
    await second.messaging.send('reader-wf', null, 'go');
    await second.messaging.send('pub-wf', null, 'b');
    expect(await second.client.retrieveWorkflow('reader-wf').getResult()).toBe(1);
    expect(await second.client.retrieveWorkflow('pub-wf').getResult()).toBe('done');
  });

  it('rejects a waiting getEvent with a shutdown error when the runtime stops', async () => {
    const rt = await startRuntime([Board]);
    const waiting = rt.messaging.getEvent('never-set', 'k', 60).catch((e: unknown) => e);
    await until('the getEvent to wait', () => rt.messaging.waitingCount === 1);
    await rt.destroy({ timeoutMs: 0 });
    expect(await waiting).toBeInstanceOf(OperonShutdownError);
  });
});

describe('durable sleep', () => {
  it('records the deadline and wakes a recovered workflow at the original time', async () => {
    const config = testConfig('sleep');
    const first = await runtime(config);
    const startedAt = Date.now();
    await start(first, 'sleeper', [3], 'sleep-wf');
    await until('the sleep to begin', () => first.messaging.waitingCount === 1);
    const [record] = await records(first, 'sleep-wf');
    expect(record!.function_name).toBe('operon.sleep');
    const deadline = Number(record!.output);
    // The deadline is by the database's clock, which this process reads within a few ms of its own.
    expect(deadline).toBeGreaterThanOrEqual(startedAt + 3000 - 25);
    expect(deadline).toBeLessThan(startedAt + 3000 + 1500);
    await first.destroy({ timeoutMs: 5_000 });
    const [status] = await query(config.database.system_database, "SELECT status FROM operon.workflow_status WHERE workflow_uuid = 'sleep-wf'");
    expect(status.status).toBe('PENDING');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = await runtime(config);
    const wokeAt = (await second.executor.retrieveWorkflow<number>('sleep-wf').getResult());
    // The deadline is by the database's clock; this process's reading of it is within a few ms.
    expect(wokeAt).toBeGreaterThanOrEqual(deadline - 25);
    expect(wokeAt).toBeLessThan(deadline + 1500);
    expect(await records(second, 'sleep-wf')).toHaveLength(1);
  });

  it('checks its argument', async () => {
    const rt = await runtime();
    const error = await (await start(rt, 'sleeper', [-1], 'sleep-bad')).getResult().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OPERON_ERR_MESSAGING_INVALID_ARGUMENT', message: 'sleep: seconds must be a finite number of seconds, 0 or more, got -1' });
    expect(await (await start(rt, 'sleeper', [0])).getResult()).toBeGreaterThan(0);
  });
});
