/**
 * A virtual clock is never moved past the last instant a date can hold (8.64e15 ms since 1970):
 * an `advance` by a duration too long for that ('1000…0s', 1e300) is refused and the clock keeps
 * its time, and `runUntilIdle` does not jump to a deadline out there (a sleep of 1e300 s). Before,
 * the clock went to Infinity (or 1e303 ms), and every later deadline was due at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingUsageError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const LAST_DATE_MS = 8.64e15;
let woke = 0;

class Napper {
  @Communicator()
  static async wake(_ctx: CommunicatorContext): Promise<void> {
    woke++;
  }

  @Workflow()
  static async nap(ctx: WorkflowContext, seconds: number): Promise<void> {
    await ctx.sleep(seconds);
    await ctx.invoke(Napper).wake();
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('vclockpast', {});
  testRuntime = await createTestingRuntime([Napper], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a virtual clock near the end of time', () => {
  it('refuses an advance that would take it past the last date, and keeps its time', async () => {
    const before = testRuntime.now();
    for (const duration of [`1${'0'.repeat(400)}s`, 1e300, Number.MAX_VALUE, LAST_DATE_MS]) {
      await expect(testRuntime.advance(duration as never)).rejects.toThrow(OperonTestingUsageError);
      expect(testRuntime.now()).toBe(before);
    }
    // A sleep still ends at its deadline, not at once.
    woke = 0;
    const handle = await testRuntime.invoke(Napper).nap(10);
    await testRuntime.advance('5s');
    expect(woke).toBe(0);
    await testRuntime.advance('5s');
    await handle.getResult();
    expect(woke).toBe(1);
  });

  it('runUntilIdle leaves a deadline past the last date pending, and the clock on a date', async () => {
    woke = 0;
    await testRuntime.invoke(Napper).nap(1e300);
    await testRuntime.runUntilIdle();
    expect(testRuntime.now()).toBeLessThanOrEqual(LAST_DATE_MS);
    expect(Number.isFinite(new Date(testRuntime.now()).getTime())).toBe(true);
    expect(woke).toBe(0);
  });
});
