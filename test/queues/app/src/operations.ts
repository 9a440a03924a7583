/**
 * The app the queue tests serve from several `operon start` processes at once. Its workflow runs
 * one communicator that appends a `start` and a `done` line to the side log (application.sideLog)
 * with the process's pid and the time, so a test can compute, from what really ran, how many ran
 * at once overall, per process and per partition key.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { Communicator, OperonResponseError, PostApi, Workflow, WorkflowQueue, type CommunicatorContext, type HandlerContext, type WorkflowContext } from '@operon/sdk';

export const QUEUES = {
  limited: new WorkflowQueue('fleet-limited', { concurrency: 20, workerConcurrency: 8 }),
  partitioned: new WorkflowQueue('fleet-partitioned', { concurrency: 60, partitionConcurrency: 1 }),
  // One slot per process: a process holding it has no room, so another must take new work.
  single: new WorkflowQueue('fleet-single', { workerConcurrency: 1 }),
  slow: new WorkflowQueue('fleet-slow', { concurrency: 10 }),
} as const;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class QueueFleet {
  @Communicator()
  static async work(ctx: CommunicatorContext, ms: number, key: string | null): Promise<number> {
    const log = ctx.getConfig<string>('sideLog')!;
    appendFileSync(log, `${JSON.stringify({ ev: 'start', uuid: ctx.workflowUUID, step: ctx.functionID, pid: process.pid, t: Date.now(), key })}\n`);
    await pause(ms);
    appendFileSync(log, `${JSON.stringify({ ev: 'done', uuid: ctx.workflowUUID, step: ctx.functionID, pid: process.pid, t: Date.now(), key })}\n`);
    return ms;
  }

  /** Waits until the gate file exists (the test opens it), logging `gate` when it begins. */
  @Communicator()
  static async untilOpen(ctx: CommunicatorContext): Promise<void> {
    appendFileSync(ctx.getConfig<string>('sideLog')!, `${JSON.stringify({ ev: 'gate', uuid: ctx.workflowUUID, step: ctx.functionID, pid: process.pid, t: Date.now() })}\n`);
    const gate = ctx.getConfig<string>('gate')!;
    while (!existsSync(gate)) await pause(20);
  }

  /** One quick communicator, then a wait for the gate: it holds its slot until the test opens it. */
  @Workflow()
  static async gated(ctx: WorkflowContext): Promise<string> {
    await ctx.invoke(QueueFleet).work(0, null);
    await ctx.invoke(QueueFleet).untilOpen();
    return 'done';
  }

  /** Enqueues `count` gated jobs on `queue`. */
  @PostApi('/enqueue-gated')
  static async enqueueGated(ctx: HandlerContext, queue: string, count: number): Promise<string[]> {
    const q = (QUEUES as Record<string, WorkflowQueue>)[queue];
    if (!q) throw new OperonResponseError(`no queue ${queue}`, 400);
    const handles = await Promise.all(Array.from({ length: count }, () => ctx.invoke(QueueFleet, { queue: q }).gated()));
    return handles.map((h) => h.getWorkflowUUID());
  }

  /** `steps` communicators of `ms` each. */
  @Workflow()
  static async job(ctx: WorkflowContext, steps: number, ms: number, key: string | null): Promise<string> {
    for (let i = 0; i < steps; i++) await ctx.invoke(QueueFleet).work(ms, key);
    return 'done';
  }

  /** Enqueues `count` jobs on `queue`; with `keys`, job i has partition key `k${i % keys}`. */
  @PostApi('/enqueue')
  static async enqueue(ctx: HandlerContext, queue: string, count: number, steps: number, ms: number, keys: number): Promise<string[]> {
    const q = (QUEUES as Record<string, WorkflowQueue>)[queue];
    if (!q) throw new OperonResponseError(`no queue ${queue}`, 400);
    const handles = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const key = keys > 0 ? `k${i % keys}` : null;
        return ctx.invoke(QueueFleet, { queue: q, ...(key === null ? {} : { partitionKey: key }) }).job(steps, ms, key);
      }),
    );
    return handles.map((h) => h.getWorkflowUUID());
  }
}
