/**
 * Regression: the testing runtime's reset() empties the system database and sets the virtual
 * clock back to its start, but the queue runner kept the times of the rate-limited starts it had
 * made before (what its rate wake-up is set from). A start of the next test was then timed from a
 * start of the previous one, which no longer exists: the wake-up came early, found the window
 * still full, and set no other, so when the window really slid nothing woke the queue and
 * advance() left the next workflow ENQUEUED.
 *
 * Reproduction: limit 1 a minute. Before the reset one workflow starts at t+10 s; after it (the
 * clock back at t) A starts at t+20 s and B waits; advance() past t+80 s must start B.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext, type WorkflowHandle } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const rated = new WorkflowQueue('rev-rated-after-reset', { rateLimit: { limitPerPeriod: 1, periodSec: 60 } });

class RatedReset {
  @Workflow()
  static async job(_ctx: WorkflowContext, label: string): Promise<string> {
    return `did ${label}`;
  }
}

let testRuntime: TestingRuntime;
let app: TestAppDir;

beforeAll(async () => {
  app = makeAppDir('ratereset', {});
  testRuntime = await createTestingRuntime([RatedReset], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

const enqueue = (label: string) =>
  (testRuntime.invoke(RatedReset, { queue: rated }) as unknown as { job(label: string): Promise<WorkflowHandle<string>> }).job(label);
const statusOf = async (handle: WorkflowHandle<string>) => (await handle.getStatus())?.status;

it('times a rate window after a reset from the starts made since', async () => {
  await testRuntime.advance(10_000); // t+10 s
  const before = await enqueue('before');
  await testRuntime.advance(1_000);
  expect(await statusOf(before)).toBe('SUCCESS');

  await testRuntime.reset(); // back at t, no workflow
  await testRuntime.advance(20_000); // t+20 s
  const a = await enqueue('a');
  const b = await enqueue('b');
  await testRuntime.advance(1_000); // t+21 s
  expect(await statusOf(a)).toBe('SUCCESS');
  expect(await statusOf(b), 'one start a minute').toBe('ENQUEUED');

  await testRuntime.advance(49_500); // t+70.5 s
  expect(await statusOf(b), 'the window still holds a').toBe('ENQUEUED');
  await testRuntime.advance(10_000); // t+80.5 s: a left the window at t+80 s
  expect(await statusOf(b), 'started once the window slid past a').toBe('SUCCESS');
}, 30_000);
