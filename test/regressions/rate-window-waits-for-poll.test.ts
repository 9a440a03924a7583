/**
 * Regression: when a queue's rate window slid past its oldest start, nothing woke the queue: the
 * next workflow waited for the 1 s poll, and on a testing runtime's virtual clock advance() and
 * runUntilIdle() had no deadline to fire, so a test saw it still ENQUEUED after moving the clock
 * past the window. Now the runner sets a wake-up, through the runtime's clock, for the moment the
 * window frees a slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext, type WorkflowHandle } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const rated = new WorkflowQueue('rev-rated-window', { rateLimit: { limitPerPeriod: 1, periodSec: 60 } });

class Rated {
  @Workflow()
  static async job(_ctx: WorkflowContext, label: string): Promise<string> {
    return `did ${label}`;
  }
}

let testRuntime: TestingRuntime;
let app: TestAppDir;

beforeAll(async () => {
  app = makeAppDir('ratewin', {});
  testRuntime = await createTestingRuntime([Rated], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

const enqueue = (label: string) =>
  (testRuntime.invoke(Rated, { queue: rated }) as unknown as { job(label: string): Promise<WorkflowHandle<string>> }).job(label);
const statusOf = async (handle: WorkflowHandle<string>) => (await handle.getStatus())?.status;

describe('a rate-limited queue on a virtual clock', () => {
  it('starts the next workflow when the window frees a slot, by the clock, without the poll', async () => {
    const first = await enqueue('first');
    const second = await enqueue('second');
    await testRuntime.advance(1_000);
    expect(await statusOf(first)).toBe('SUCCESS');
    expect(await statusOf(second), 'one start a minute').toBe('ENQUEUED');

    await testRuntime.advance(58_000);
    expect(await statusOf(second), 'the window is still full').toBe('ENQUEUED');
    await testRuntime.advance(1_100);
    expect(await statusOf(second), 'started once the window slid past the first start').toBe('SUCCESS');
  }, 20_000);
});
