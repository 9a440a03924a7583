/**
 * Regression: when the dequeue that took a workflow committed but its answer was lost with the
 * connection, the workflow was PENDING, owned by this live executor, and run nowhere: the runner
 * logged the failure and dequeued again, which takes only ENQUEUED rows. The workflow (and the
 * slot of its queue's concurrency it holds) waited for the process to die or restart. Now a
 * dequeue whose answer was lost is followed by a look for what it took, which runs here.
 */
import { afterAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext, type WorkflowHandle } from '@operon/sdk';
import { runtimeBehindProxy, type RuntimeBehindProxy } from '../helpers/cuttable-proxy.js';

const queue = new WorkflowQueue('rev-lost-dequeue-answer', { concurrency: 1 });

class LostDequeue {
  @Workflow()
  static async job(_ctx: WorkflowContext, n: number): Promise<number> {
    return n * 2;
  }
}

let behind: RuntimeBehindProxy | undefined;
afterAll(() => behind?.close());

it('runs a workflow whose dequeue committed but whose answer was lost', { timeout: 30_000 }, async () => {
  behind = await runtimeBehindProxy([LostDequeue], 'lostdq');
  const { runtime, proxy } = behind;
  const enqueue = (n: number) =>
    (runtime.client.invoke(LostDequeue, { queue: { queue } }) as unknown as { job(n: number): Promise<WorkflowHandle<number>> }).job(n);
  expect(await (await enqueue(1)).getResult()).toBe(2); // warm the pools

  // Only a dequeue carries the array of the workflows this executor takes (an enqueue names one).
  const cut = proxy.loseNextCommitAnswer({ marker: '{"LostDequeue.job"}', timeoutMs: 5_000 });
  const lost = await enqueue(21);
  expect(await cut, 'the dequeue was cut after it committed').toMatchObject({ committed: 'autocommit' });
  const later = await enqueue(5);

  const within = (handle: WorkflowHandle<number>) =>
    Promise.race([handle.getResult(), new Promise((resolve) => setTimeout(() => resolve('still waiting after 8 s'), 8_000))]);
  expect(await within(lost), 'the workflow the lost dequeue took').toBe(42);
  expect(await within(later), 'the next one, behind it in a queue of concurrency 1').toBe(10);
});
