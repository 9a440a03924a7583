/**
 * Regression: a rate-limited queue's runner kept one wake-up a queue at a time, set a period after
 * the dequeue that set it, and re-set it only for the dequeue of its own firing. A start made
 * while that wake-up was set (a later start in the same window) set none: when the window slid
 * past it, a slot freed and nothing woke the queue before the 1 s poll, or, on a testing runtime's
 * virtual clock, before the next wake-up a whole period on (advance() left the workflow ENQUEUED).
 *
 * Reproduction: limit 2 a minute. A starts at t, B at t+11 s (the window then holds both), C and D
 * wait. At t+60 s A leaves the window and C starts; at t+71 s B leaves it and D must start.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext, type WorkflowHandle } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const rated = new WorkflowQueue('rev-rated-later-start', { rateLimit: { limitPerPeriod: 2, periodSec: 60 } });

class RatedLater {
  @Workflow()
  static async job(_ctx: WorkflowContext, label: string): Promise<string> {
    return `did ${label}`;
  }
}

let testRuntime: TestingRuntime;
let app: TestAppDir;

beforeAll(async () => {
  app = makeAppDir('ratelater', {});
  testRuntime = await createTestingRuntime([RatedLater], app.configPath, { clock: 'virtual' });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

const enqueue = (label: string) =>
  (testRuntime.invoke(RatedLater, { queue: rated }) as unknown as { job(label: string): Promise<WorkflowHandle<string>> }).job(label);
const statusOf = async (handle: WorkflowHandle<string>) => (await handle.getStatus())?.status;

it('starts a waiting workflow when the window slides past a later start of the same window', async () => {
  const a = await enqueue('a');
  await testRuntime.advance(1_000); // t+1 s
  expect(await statusOf(a)).toBe('SUCCESS');

  await testRuntime.advance(10_000); // t+11 s
  const b = await enqueue('b');
  const c = await enqueue('c');
  const d = await enqueue('d');
  await testRuntime.advance(1_000); // t+12 s
  expect(await statusOf(b), 'the second start of the window').toBe('SUCCESS');
  expect(await statusOf(c), 'the window holds a and b').toBe('ENQUEUED');

  await testRuntime.advance(48_500); // t+60.5 s: a left the window
  expect(await statusOf(c), 'started when a left the window').toBe('SUCCESS');
  expect(await statusOf(d), 'the window holds b and c').toBe('ENQUEUED');

  await testRuntime.advance(11_000); // t+71.5 s: b left the window at t+71 s
  expect(await statusOf(d), 'started when b left the window').toBe('SUCCESS');
}, 30_000);
