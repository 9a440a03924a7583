/**
 * Regression: a process paused past its lease (SIGSTOP, a stalled VM) wakes still taking its old
 * instance for its own until its next heartbeat says otherwise. Its queue dequeued under that
 * instance, which the other executors had declared dead: it took workflows (and their queue's
 * slots) it no longer had the right to run. Its lease check stops such a run before its first
 * operation, but the workflow was then left to an adoption at a later heartbeat, counted as a
 * recovery attempt; and where that check had not fired (here: the instance declared dead by a
 * write of the test's, the last heartbeat recent) the run went ahead under the dead instance. A
 * schedule's ticks already checked that their starter is live; a dequeue does too now: a dead
 * instance takes nothing from a queue, and the workflow starts under the instance the process goes
 * on as.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, WorkflowQueue, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';
import { within } from '../helpers/app-dir.js';

const jobs = new WorkflowQueue('lapsed-lease-jobs', { concurrency: 5 });
/** The owner of the workflow's row each time its communicator ran. */
const ranUnder: string[] = [];
let runtime: OperonRuntime | undefined;

class Jobs {
  @Communicator()
  static async charge(ctx: CommunicatorContext): Promise<string> {
    ranUnder.push((await runtime!.systemDb.getWorkflow(ctx.workflowUUID))!.owner ?? '');
    return 'charged';
  }

  @Workflow()
  static async job(ctx: WorkflowContext): Promise<string> {
    return ctx.invoke(Jobs).charge();
  }
}

beforeAll(async () => {
  runtime = await startRuntime([Jobs], testConfig('lapseddequeue'));
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1_000 });
});

describe('a dequeue by a process whose lease lapsed while it was paused', () => {
  it('takes nothing under the dead instance: the workflow runs once, under the instance the process goes on as', async () => {
    const dead = runtime!.executor.lease.instanceId;
    // What another executor's heartbeat does to a paused process's instance once its lease lapsed.
    await runtime!.systemDb.systemPool.query(`UPDATE operon.executors SET state = 'dead' WHERE instance_id = $1`, [dead]);
    // Woken, before its next heartbeat: an enqueue wakes its queue at once.
    const handle = await runtime!.client.invoke(Jobs, { queue: { queue: jobs } }).job();
    expect(await within(handle.getResult(), 15_000, 'no result')).toBe('charged');
    expect(ranUnder).toHaveLength(1);
    expect(ranUnder[0]).not.toBe(dead);
    expect(ranUnder[0]).toBe(runtime!.executor.lease.instanceId);
  });
});
