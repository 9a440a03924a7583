/**
 * The workflow clock is injectable: a runtime given a virtual clock records its deadlines by it and
 * ends sleeps and recv/getEvent timeouts only when that clock reaches them, in deadline order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, createLogger } from '@operon/runtime';
import { VirtualClock } from '../../packages/runtime/src/executor/virtual-clock.js';
import { DatabaseClock } from '../../packages/runtime/src/executor/database-clock.js';
import { untilDeadline } from '../../packages/runtime/src/executor/workflow-clock.js';
import { testConfig } from '../helpers/test-databases.js';
import { until } from '../messaging/messaging-helpers.js';

const woke: string[] = [];

class Timed {
  @Workflow()
  static async nap(ctx: WorkflowContext, name: string, seconds: number): Promise<number> {
    await ctx.sleep(seconds);
    woke.push(name);
    return seconds;
  }

  @Workflow()
  static async listen(ctx: WorkflowContext, seconds: number): Promise<string | null> {
    const message = await ctx.recv<string>('topic', seconds);
    woke.push(`recv ${message}`);
    return message;
  }

  @Workflow()
  static async watch(ctx: WorkflowContext, target: string, seconds: number): Promise<string | null> {
    const value = await ctx.getEvent<string>(target, 'never', seconds);
    woke.push(`getEvent ${value}`);
    return value;
  }
}

describe('VirtualClock', () => {
  it('fires timers in deadline order, each at its own instant, never before it', async () => {
    const clock = new VirtualClock(1_000);
    const fired: [string, number][] = [];
    clock.at(3_000, () => fired.push(['c', clock.now()]));
    clock.at(2_000, () => fired.push(['a', clock.now()]));
    clock.at(2_000, () => fired.push(['b', clock.now()]));
    const cancel = clock.at(2_500, () => fired.push(['cancelled', clock.now()]));
    cancel();
    expect(clock.fireNext(1_999)).toBe(false);
    expect(clock.now()).toBe(1_000);
    expect(clock.fireNext(10_000)).toBe(true);
    expect(fired).toEqual([['a', 2_000], ['b', 2_000]]);
    expect(clock.fireNext(10_000)).toBe(true);
    expect(clock.fireNext(10_000)).toBe(false);
    expect(fired).toEqual([['a', 2_000], ['b', 2_000], ['c', 3_000]]);
    clock.moveTo(10_000);
    expect(clock.now()).toBe(10_000);
    // A deadline already reached fires on a later turn, not inside `at`.
    let late = false;
    const done = untilDeadline(clock, 5_000).then(() => (late = true));
    expect(late).toBe(false);
    await done;
    expect(late).toBe(true);
  });

  it('untilDeadline rejects with the abort reason and cancels the timer', async () => {
    const clock = new VirtualClock(0);
    const controller = new AbortController();
    const waiting = untilDeadline(clock, 100, controller.signal);
    expect(clock.pendingCount).toBe(1);
    controller.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(clock.pendingCount).toBe(0);
  });

  it("the database clock's timer fires once its own now() reaches the deadline", async () => {
    const clock = new DatabaseClock();
    const deadline = clock.now() + 30;
    const firedAt = await new Promise<number>((resolve) => clock.at(deadline, () => resolve(clock.now())));
    expect(firedAt).toBeGreaterThanOrEqual(deadline);
  });
});

describe('a runtime on a virtual clock', () => {
  let runtime: OperonRuntime;
  let clock: VirtualClock;

  beforeAll(async () => {
    const config = testConfig('vclock');
    clock = new VirtualClock();
    runtime = await OperonRuntime.create({ config, classes: [Timed], logger: createLogger(config.telemetry.logs.logLevel), clock });
    await runtime.recover();
  });

  afterAll(async () => {
    await runtime?.destroy();
  });

  it('records deadlines by the virtual clock and ends each wait only when that clock reaches it, in deadline order', async () => {
    const start = clock.now();
    const invoker = runtime.client.invoke(Timed);
    const long = await invoker.nap('month', 30 * 24 * 3600);
    const short = await invoker.nap('hour', 3600);
    const recv = await invoker.listen(7200);
    const event = await invoker.watch('nobody', 5400);
    await until('four timers set on the virtual clock', () => clock.pendingCount === 4);
    expect(woke).toEqual([]);

    // The deadlines are the virtual clock's: one hour after its start, recorded as such.
    const rows = await runtime.systemDb.systemPool.query<{ output: string }>(
      "SELECT output FROM operon.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'operon.sleep'",
      [short.getWorkflowUUID()],
    );
    expect(Number(JSON.parse(rows.rows[0]!.output))).toBe(start + 3_600_000);

    const order: string[] = [];
    while (clock.fireNext(Number.MAX_SAFE_INTEGER)) {
      const before = woke.length;
      await until('the woken workflow to go on', () => woke.length > before);
      order.push(...woke.slice(before));
    }
    expect(order).toEqual(['hour', 'getEvent null', 'recv null', 'month']);
    expect(clock.now()).toBe(start + 30 * 24 * 3600 * 1000);
    expect(await short.getResult()).toBe(3600);
    expect(await long.getResult()).toBe(30 * 24 * 3600);
    expect(await recv.getResult()).toBeNull();
    expect(await event.getResult()).toBeNull();
  });
});
