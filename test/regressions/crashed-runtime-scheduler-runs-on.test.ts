/**
 * crashAfter's crash left the dead runtime's scheduler running: a killed process's schedules end
 * with it, but this one kept waking every second, on the virtual clock beside the recovered
 * runtime's own scheduler (each advance fired both, and the dead one failed on its ended pools),
 * and on the database's clock after destroy() too, logging "Cannot use a pool after calling end
 * on the pool" every second for as long as the process lived.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Scheduled, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, OperonTestingCrashedError, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

class Ticks {
  @Communicator()
  static async note(_ctx: CommunicatorContext): Promise<void> {}

  @Scheduled({ crontab: '* * * * * *' })
  @Workflow()
  static async everySecond(ctx: WorkflowContext): Promise<void> {
    await ctx.invoke(Ticks).note();
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('crashsched', {});
  testRuntime = await createTestingRuntime([Ticks], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

/** The timers waiting on the testing runtime's virtual clock. */
const timers = () => (testRuntime.runtime.executor.deps.clock as unknown as { readonly pendingCount: number }).pendingCount;

describe("a crashed runtime's schedules", () => {
  it('stop with it: after recover() only the new runtime\'s scheduler waits on the clock', async () => {
    // One timer: the scheduler's next look.
    expect(timers()).toBe(1);
    testRuntime.crashAfter('Ticks.note');
    await expect(testRuntime.advance('2s')).rejects.toBeInstanceOf(OperonTestingCrashedError);
    await testRuntime.recover();
    await testRuntime.advance('3s');
    expect(timers()).toBe(1);
  });
});
