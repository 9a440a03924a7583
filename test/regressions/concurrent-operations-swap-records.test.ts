/**
 * Regression: operations started together (`Promise.all`) took their operation ids late. `recv`
 * took its second id after an await and wrote its deadline at the id before it, which by then was
 * a concurrent step's: `Promise.all([ctx.recv('t', 1), ctx.invoke(C).step()])` gave the step the
 * deadline number instead of its output, and getEvent did the same. Every operation now takes its
 * ids when it is called, and each one of a fan-out gets its own result, on the first run and on a
 * re-run after SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';
import { useKilledChildApp } from '../helpers/killed-child-app.js';
import { FAN_OUT_EXPECTED, FAN_OUT_MIGRATION, FanOut, fanOutHooks } from '../fixtures/fan-out-workflows.js';

const communicatorRuns: string[] = [];
fanOutHooks.onCommunicator = (uuid, n) => communicatorRuns.push(`${uuid} ${n}`);

describe('operations a workflow starts concurrently, first run', () => {
  let app: AppDir;
  let testRuntime: TestingRuntime | undefined;

  beforeAll(async () => {
    app = writeAppDir('fanout', { migrations: { '001_fan.sql': FAN_OUT_MIGRATION } });
    testRuntime = await createTestingRuntime([FanOut], app.configPath);
    await (await testRuntime.invoke(FanOut, 'src-1').publish('k', 'event value')).getResult();
  });

  afterAll(async () => {
    await testRuntime?.destroy();
    app?.remove();
  });

  it('recv beside a step: each gets its own result', async () => {
    await testRuntime!.send('pair-recv-1', 'ping', 't');
    const handle = await testRuntime!.invoke(FanOut, 'pair-recv-1').recvAndStep();
    expect(await within(handle.getResult(), 10_000, 'no result after 10 s')).toEqual(['ping', 'step 1']);

    const noMessage = await testRuntime!.invoke(FanOut, 'pair-recv-2').recvAndStep();
    expect(await within(noMessage.getResult(), 10_000, 'no result after 10 s')).toEqual([null, 'step 1']);
  });

  it('getEvent beside a step: each gets its own result', async () => {
    const handle = await testRuntime!.invoke(FanOut, 'pair-event-1').getEventAndStep('src-1');
    expect(await within(handle.getResult(), 10_000, 'no result after 10 s')).toEqual(['event value', 'step 2']);
  });

  it('a fan-out of 14 mixed operations: each gets its own result, each runs once', async () => {
    communicatorRuns.length = 0;
    await testRuntime!.send('fan-a', 'hello', 't1');
    const sink = await testRuntime!.invoke(FanOut, 'sink-a').sink();
    const handle = await testRuntime!.invoke(FanOut, 'fan-a').fanOut('src-1', 'sink-a');
    expect(await within(handle.getResult(), 10_000, 'no result after 10 s')).toEqual(FAN_OUT_EXPECTED);
    expect(await within(sink.getResult(), 10_000, 'no result after 10 s')).toEqual(['from fan-a', null]);
    expect(await testRuntime!.getEvent('fan-a', 'progress', 1)).toBe('fanned out');
    expect(communicatorRuns.sort()).toEqual(['fan-a 10', 'fan-a 13', 'fan-a 2']);
    const rows = await testRuntime!.queryUserDB("SELECT n, count(*)::int AS count FROM fan_rows WHERE uuid = 'fan-a' GROUP BY n ORDER BY n");
    expect(rows).toEqual([
      { n: 1, count: 1 },
      { n: 7, count: 1 },
    ]);
  });
});

describe('operations a workflow starts concurrently, re-run after SIGKILL', () => {
  const app = useKilledChildApp('fanoutkill', 'fan-out-child.ts', 'FAN', { migrations: { '001_fan.sql': FAN_OUT_MIGRATION } });

  it('replays each operation’s own record, and nothing runs again', async () => {
    const first = app.start(1);
    // Killed once all three workflows are past their fan-out, before any of them ended.
    expect(await within(first.exited, 20_000, 'still running after 20 s'), first.output()).toBe('SIGKILL');

    const second = app.start(2);
    const line = await second.waitForLine(/^RESULT /, 20_000);
    expect(await within(second.exited, 20_000, 'still running after 20 s'), second.output()).toBe(0);
    const { outcomes, sink, rows } = JSON.parse(line.slice('RESULT '.length));
    expect(outcomes).toEqual([{ value: ['ping', 'step 1'] }, { value: ['event value', 'step 2'] }, { value: FAN_OUT_EXPECTED }]);
    expect(sink).toEqual(['from fan-1', null]);
    expect(rows).toEqual([
      { n: 1, count: 1 },
      { n: 7, count: 1 },
    ]);
    // Every communicator completed before the kill: it ran once, in the first run.
    const runs = app.sideLogLines().sort();
    expect(runs).toEqual(['fan-1 10 1', 'fan-1 13 1', 'fan-1 2 1', 'pair-event 2 1', 'pair-recv 1 1']);
  });
});
