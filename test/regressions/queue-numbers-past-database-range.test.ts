/**
 * Regression: queue numbers were checked to be numbers, not to fit the database. An enqueue's
 * `delaySeconds` of 1e17 (or 1e300) made a start time past BIGINT: the INSERT failed, the failure
 * was taken for the database's, and the enqueue was retried, for 30 s from a client (then a bare
 * Postgres error), and for ever from a workflow (its child enqueue retried every 5 s, the workflow
 * PENDING, its code never told). A queue's `concurrency` (or any count) past INTEGER, or a
 * `rateLimit.periodSec` past what a BIGINT of milliseconds holds, was accepted when made; every
 * dequeue of the process (one statement for all its queues) then failed, so no queue of it ever
 * started anything again. Each is refused at once with OPERON_ERR_QUEUE_OPTIONS naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonQueueOptionsError, Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';
import { rejectionOf, within } from '../helpers/app-dir.js';

const later = new WorkflowQueue('queue_numbers_later');

class Later {
  @Workflow()
  static async remind(_ctx: WorkflowContext, what: string): Promise<string> {
    return `reminded of ${what}`;
  }

  @Workflow()
  static async plan(ctx: WorkflowContext, delaySeconds: number): Promise<string> {
    try {
      await ctx.startChildWorkflow(Later, { queue: later, delaySeconds }).remind('taxes');
      return 'enqueued';
    } catch (error) {
      return `refused: ${(error as { code?: string }).code}`;
    }
  }
}

let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('queuenumbers', {});
  testRuntime = await createTestingRuntime([Later], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('queue numbers the database cannot hold', () => {
  it('an enqueue delayed past any storable time is refused at once, from a client and from a workflow', async () => {
    const fromClient = rejectionOf(testRuntime.runtime.client.invoke(Later, { queue: { queue: later, delaySeconds: 1e17 } }).remind('rent'));
    const refusal = await within(fromClient, 5_000, 'still retried after 5 s');
    expect((refusal as { code?: string }).code).toBe('OPERON_ERR_QUEUE_OPTIONS');
    expect((refusal as Error).message).toMatch(/delaySeconds/);

    const planned = await testRuntime.invoke(Later, 'plan-1').plan(1e300);
    expect(await within(planned.getResult(), 5_000, 'still PENDING after 5 s')).toBe('refused: OPERON_ERR_QUEUE_OPTIONS');
  });

  it('a queue whose counts or window the database cannot hold is refused when made, naming the option', () => {
    const made = (name: string, options: object) => () => new WorkflowQueue(name, options);
    expect(made('queue_numbers_wide', { concurrency: 2 ** 31 })).toThrow(OperonQueueOptionsError);
    expect(made('queue_numbers_wide', { concurrency: 2 ** 31 })).toThrow(/concurrency/);
    expect(made('queue_numbers_worker', { workerConcurrency: 2 ** 40 })).toThrow(/workerConcurrency/);
    expect(made('queue_numbers_part', { partitionConcurrency: 2 ** 31 })).toThrow(/partitionConcurrency/);
    expect(made('queue_numbers_rate', { rateLimit: { limitPerPeriod: 2 ** 31, periodSec: 1 } })).toThrow(/limitPerPeriod/);
    expect(made('queue_numbers_long', { rateLimit: { limitPerPeriod: 1, periodSec: 1e300 } })).toThrow(/periodSec/);
    // The largest that fit are kept.
    expect(new WorkflowQueue('queue_numbers_fits', { concurrency: 2 ** 31 - 1 }).options.concurrency).toBe(2 ** 31 - 1);
  });
});
