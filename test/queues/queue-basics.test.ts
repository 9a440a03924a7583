/**
 * Queues in one runtime, against the real system database: an enqueued workflow is ENQUEUED until
 * started and its handle waits for its result; priority first, then enqueue order; delaySeconds by
 * the runtime's clock; deduplication refused (409 over HTTP) while held and free after it ends; the
 * global limit; the rate limit at dequeue; a child enqueued from a workflow is one recorded step;
 * bad options get errors that name them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OperonQueueDuplicatedError,
  OperonQueueOptionsError,
  PostApi,
  Workflow,
  WorkflowQueue,
  type HandlerContext,
  type WorkflowContext,
} from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const serial = new WorkflowQueue('basics-serial', { concurrency: 1 });
const limited = new WorkflowQueue('basics-limited', { concurrency: 3 });
const rated = new WorkflowQueue('basics-rated', { rateLimit: { limitPerPeriod: 4, periodSec: 1 } });
const open = new WorkflowQueue('basics-open');

const started: string[] = [];
let running = 0;
let maxRunning = 0;
const gates = new Map<string, () => void>();
const gateOpen = (label: string) => new Promise<void>((resolve) => gates.set(label, resolve));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Jobs {
  @Workflow()
  static async record(_ctx: WorkflowContext, label: string): Promise<string> {
    started.push(label);
    return `did ${label}`;
  }

  @Workflow()
  static async held(_ctx: WorkflowContext, label: string): Promise<string> {
    started.push(label);
    await gateOpen(label);
    return `released ${label}`;
  }

  @Workflow()
  static async busy(_ctx: WorkflowContext, ms: number): Promise<number> {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await pause(ms);
    running--;
    return ms;
  }

  @Workflow()
  static async parent(ctx: WorkflowContext, label: string): Promise<string> {
    const child = await ctx.startChildWorkflow(Jobs, { queue: open, deduplicationID: `child-${label}` }).record(label);
    return child.getResult();
  }

  @PostApi('/enqueue')
  static async enqueue(ctx: HandlerContext, label: string, dedup: string): Promise<string> {
    const handle = await ctx.invoke(Jobs, { queue: open, deduplicationID: dedup }).held(label);
    return handle.getWorkflowUUID();
  }
}

let runtime: OperonRuntime;
let sys: string;

beforeAll(async () => {
  const config = testConfig('qbasics');
  sys = config.database.system_database;
  runtime = await startRuntime([Jobs], config);
});

afterAll(async () => {
  for (const release of gates.values()) release();
  await runtime?.destroy({ timeoutMs: 1_000 });
});

const enqueue = (options: Parameters<OperonRuntime['client']['invoke']>[1]) =>
  runtime.client.invoke(Jobs, options) as unknown as {
    record(label: string): Promise<import('@operon/sdk').WorkflowHandle<string>>;
    held(label: string): Promise<import('@operon/sdk').WorkflowHandle<string>>;
    busy(ms: number): Promise<import('@operon/sdk').WorkflowHandle<number>>;
  };

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error('timed out');
    await pause(10);
  }
}

describe('a queue in one runtime', () => {
  it('keeps a workflow ENQUEUED behind a full queue, starts by priority then enqueue order, and its handle waits', async () => {
    started.length = 0;
    const blocker = await enqueue({ queue: { queue: serial } }).held('blocker');
    await until(() => started.includes('blocker'));
    const handles = [];
    for (const [label, priority] of [['p5-a', 5], ['p0-a', 0], ['p5-b', 5], ['p-1', -1], ['p0-b', 0]] as const) {
      handles.push(await enqueue({ queue: { queue: serial, priority } }).record(label));
    }
    expect((await handles[0]!.getStatus())?.status).toBe('ENQUEUED');
    expect((await blocker.getStatus())?.status).toBe('PENDING');
    const results = Promise.all(handles.map((h) => h.getResult()));
    gates.get('blocker')!();
    expect(await results).toEqual(['did p5-a', 'did p0-a', 'did p5-b', 'did p-1', 'did p0-b']);
    expect(started).toEqual(['blocker', 'p-1', 'p0-a', 'p0-b', 'p5-a', 'p5-b']);
  });

  it('holds a delayed workflow back until its time by the runtime clock', async () => {
    const before = runtime.executor.deps.clock.now();
    const handle = await enqueue({ queue: { queue: open, delaySeconds: 1.2 } }).record('late');
    await pause(300);
    expect((await handle.getStatus())?.status).toBe('ENQUEUED');
    expect(await handle.getResult()).toBe('did late');
    const [row] = await query(sys, 'SELECT queue_started_at FROM operon.workflow_status WHERE workflow_uuid = $1', [handle.getWorkflowUUID()]);
    expect(Number(row.queue_started_at) - before).toBeGreaterThanOrEqual(1_200);
  });

  it('refuses a held deduplication id (409 over HTTP), and takes it again once its holder ended', async () => {
    const app = await createHttpServer(runtime);
    try {
      const first = await app.inject({ method: 'POST', url: '/enqueue', payload: { label: 'd1', dedup: 'same' } });
      expect(first.statusCode).toBe(200);
      const second = await app.inject({ method: 'POST', url: '/enqueue', payload: { label: 'd2', dedup: 'same' } });
      expect(second.statusCode).toBe(409);
      expect(second.json().error).toMatch(/already holds a workflow with deduplicationID same/);
      expect(second.body).toContain('basics-open');
      await expect(enqueue({ queue: { queue: open, deduplicationID: 'same' } }).record('d3')).rejects.toBeInstanceOf(OperonQueueDuplicatedError);
      // Another queue does not share the id.
      expect(await (await enqueue({ queue: { queue: limited, deduplicationID: 'same' } }).record('d4')).getResult()).toBe('did d4');
      await until(() => gates.has('d1'));
      gates.get('d1')!();
      const uuid = first.body;
      await expect(runtime.client.retrieveWorkflow(uuid).getResult()).resolves.toBe('released d1');
      const third = await app.inject({ method: 'POST', url: '/enqueue', payload: { label: 'd5', dedup: 'same' } });
      expect(third.statusCode).toBe(200);
      await until(() => gates.has('d5'));
      gates.get('d5')!();
      await runtime.client.retrieveWorkflow(third.body).getResult();
    } finally {
      await app.close();
    }
  });

  it('never runs more than the queue concurrency at once', async () => {
    maxRunning = 0;
    const handles = await Promise.all(Array.from({ length: 24 }, () => enqueue({ queue: { queue: limited } }).busy(30)));
    await Promise.all(handles.map((h) => h.getResult()));
    expect(maxRunning).toBe(3);
  });

  it('starts at most the rate limit in any window, counted at dequeue', async () => {
    const handles = await Promise.all(Array.from({ length: 12 }, (_, i) => enqueue({ queue: { queue: rated } }).record(`r${i}`)));
    await Promise.all(handles.map((h) => h.getResult()));
    const rows = await query(sys, 'SELECT queue_started_at::bigint AS t FROM operon.workflow_status WHERE workflow_uuid = ANY($1) ORDER BY 1', [
      handles.map((h) => h.getWorkflowUUID()),
    ]);
    const times = rows.map((r) => Number(r.t));
    // Any window of one period holds at most limitPerPeriod starts.
    for (let i = 0; i < times.length; i++) expect(times.filter((t) => t >= times[i]! && t < times[i]! + 1_000).length).toBeLessThanOrEqual(4);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_000);
  });

  it('enqueues a child from a workflow as one recorded step', async () => {
    const parent = await runtime.client.invoke(Jobs).parent('kid');
    expect(await parent.getResult()).toBe('did kid');
    const rows = await query(sys, `SELECT workflow_uuid, queue_name, parent_uuid FROM operon.workflow_status WHERE parent_uuid = $1`, [parent.getWorkflowUUID()]);
    expect(rows).toHaveLength(1);
    expect(rows[0].queue_name).toBe('basics-open');
  });

  it('names what is wrong with bad queue and enqueue options', () => {
    expect(() => new WorkflowQueue('basics-serial', { concurrency: 2 })).toThrow(/already registered with other options/);
    expect(() => new WorkflowQueue('bad name')).toThrow(OperonQueueOptionsError);
    expect(() => new WorkflowQueue('q-zero', { concurrency: 0 })).toThrow(/concurrency must be a whole number from 1 to 2147483647/);
    expect(() => new WorkflowQueue('q-worker', { concurrency: 2, workerConcurrency: 3 })).toThrow(/may not exceed concurrency/);
    expect(() => new WorkflowQueue('q-rate', { rateLimit: { limitPerPeriod: 2, periodSec: 0 } })).toThrow(/periodSec/);
    expect(() => new WorkflowQueue('q-unknown', { concurency: 2 } as never)).toThrow(/unknown option concurency/);
    expect(new WorkflowQueue('basics-serial', { concurrency: 1 }).name).toBe('basics-serial');
  });

  it('refuses bad enqueue options before storing anything', async () => {
    await expect(enqueue({ queue: { queue: open, priority: 1.5 } }).record('x')).rejects.toThrow(/priority must be an integer/);
    await expect(enqueue({ queue: { queue: open, delaySeconds: -1 } }).record('x')).rejects.toThrow(/delaySeconds/);
    await expect(enqueue({ queue: { queue: open, partitionKey: 'k' } }).record('x')).rejects.toThrow(/has no partitionConcurrency/);
    await expect(enqueue({ queue: { queue: { name: 'nowhere' } as never } }).record('x')).rejects.toThrow(/must be a WorkflowQueue/);
  });
});
