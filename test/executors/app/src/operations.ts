/**
 * The app the executor tests serve from several `operon start` processes at once. Every
 * communicator appends one JSON line to the side log (application.sideLog) when it starts and one
 * when its side effect is done, with the pid of the process that ran it and the time; every
 * transaction inserts a row into fleet_writes with its pid. So a test can count, per workflow and
 * step, how often each ran and in which process, and when.
 */
import { appendFileSync, existsSync } from 'node:fs';
import {
  Communicator,
  OperonResponseError,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';

type Context = CommunicatorContext | TransactionContext | WorkflowContext;

function sideLog(ctx: Context, event: string, step: number, extra: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ ev: event, uuid: ctx.workflowUUID, step, pid: process.pid, t: Date.now(), ...extra });
  // One short line per append (O_APPEND, under PIPE_BUF): lines of concurrent processes never interleave.
  appendFileSync(ctx.getConfig<string>('sideLog')!, `${line}\n`);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls for `file` (a gate the test opens by creating it). */
async function gate(file: string): Promise<void> {
  while (!existsSync(file)) await pause(100);
}

/** A step whose error reached workflow code: logged before it is rethrown, so a test can see it. */
async function watched<T>(ctx: WorkflowContext, step: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    sideLog(ctx, 'caught', step, { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    throw error;
  }
}

export class Fleet {
  /** A side effect that takes `ms`: `start` when called, `done` once it happened. */
  @Communicator()
  static async work(ctx: CommunicatorContext, step: number, ms: number): Promise<number> {
    sideLog(ctx, 'start', step);
    await pause(ms);
    sideLog(ctx, 'done', step);
    return step;
  }

  /** A side effect that waits for the gate file `application.gate` before it happens. */
  @Communicator()
  static async gated(ctx: CommunicatorContext, step: number): Promise<number> {
    sideLog(ctx, 'start', step);
    await gate(ctx.getConfig<string>('gate')!);
    sideLog(ctx, 'done', step);
    return step;
  }

  /** Fails until the gate file `application.gate` exists, tried again every 2 s: `start` at each attempt. */
  @Communicator({ intervalSeconds: 2, backoffRate: 1, maxAttempts: 30 })
  static async untilGate(ctx: CommunicatorContext, step: number): Promise<number> {
    sideLog(ctx, 'start', step);
    if (!existsSync(ctx.getConfig<string>('gate')!)) throw new Error('the gate is closed');
    sideLog(ctx, 'done', step);
    return step;
  }

  @Transaction()
  static async write(ctx: TransactionContext, step: number): Promise<number> {
    await ctx.client.query('INSERT INTO fleet_writes (workflow_uuid, step, pid) VALUES ($1, $2, $3)', [ctx.workflowUUID, step, process.pid]);
    return step;
  }

  /** Locks the counter row, then waits for the gate inside the transaction (it stays open meanwhile). */
  @Transaction()
  static async lockAndWait(ctx: TransactionContext, step: number): Promise<number> {
    await ctx.client.query('UPDATE fleet_counters SET n = n + 1 WHERE id = 1');
    await ctx.client.query('INSERT INTO fleet_writes (workflow_uuid, step, pid) VALUES ($1, $2, $3)', [ctx.workflowUUID, step, process.pid]);
    sideLog(ctx, 'locked', step);
    await gate(ctx.getConfig<string>('gate')!);
    return step;
  }

  /** `steps` communicators of `ms` each, one after the other. */
  @Workflow()
  static async steps(ctx: WorkflowContext, steps: number, ms: number): Promise<string> {
    for (let i = 0; i < steps; i++) await watched(ctx, i, () => ctx.invoke(Fleet).work(i, ms));
    return `done ${steps}`;
  }

  /** A communicator, a durable sleep, a transaction, a communicator. */
  @Workflow()
  static async napping(ctx: WorkflowContext, seconds: number): Promise<string> {
    await watched(ctx, 0, () => ctx.invoke(Fleet).work(0, 10));
    await watched(ctx, 1, () => ctx.sleep(seconds));
    await watched(ctx, 2, () => ctx.invoke(Fleet).write(2));
    await watched(ctx, 3, () => ctx.invoke(Fleet).work(3, 10));
    return 'napped';
  }

  /** Sleeps first (nothing runs before the deadline), then one communicator. */
  @Workflow()
  static async sleepThenWork(ctx: WorkflowContext, seconds: number): Promise<string> {
    await ctx.sleep(seconds);
    await ctx.invoke(Fleet).work(1, 10);
    return 'worked';
  }

  /** The gated communicator, then a transaction. */
  @Workflow()
  static async gatedThenWrite(ctx: WorkflowContext): Promise<string> {
    await watched(ctx, 0, () => ctx.invoke(Fleet).gated(0));
    await watched(ctx, 1, () => ctx.invoke(Fleet).write(1));
    return 'written';
  }

  /** One communicator that fails and is tried again until the gate opens. */
  @Workflow()
  static async retrying(ctx: WorkflowContext): Promise<string> {
    await watched(ctx, 0, () => ctx.invoke(Fleet).untilGate(0));
    return 'opened';
  }

  /** A transaction left open on a locked row until the gate opens, then a communicator. */
  @Workflow()
  static async lockedTransaction(ctx: WorkflowContext): Promise<string> {
    await ctx.invoke(Fleet).lockAndWait(0);
    await ctx.invoke(Fleet).work(1, 10);
    return 'unlocked';
  }

  /** Waits for a message on `topic`, then logs it (step 1) with the time it arrived. */
  @Workflow()
  static async receiver(ctx: WorkflowContext, topic: string, timeoutSeconds: number): Promise<unknown> {
    const message = await watched(ctx, 0, () => ctx.recv<unknown>(topic, timeoutSeconds));
    sideLog(ctx, 'received', 1, { message });
    return message;
  }

  @Workflow()
  static async sender(ctx: WorkflowContext, destination: string, topic: string, message: unknown): Promise<string> {
    sideLog(ctx, 'sending', 0);
    await ctx.send(destination, message, topic);
    return 'sent';
  }

  /** Starts `count` workflows of `name` with `args` (no waiting for their results); returns their UUIDs. */
  @PostApi('/start')
  static async start(ctx: HandlerContext, name: string, count: number, args: unknown[]): Promise<string[]> {
    const invoke = ctx.invoke(Fleet) as unknown as Record<string, (...a: unknown[]) => Promise<{ getWorkflowUUID(): string }>>;
    if (!['steps', 'napping', 'sleepThenWork', 'gatedThenWrite', 'lockedTransaction', 'receiver', 'sender', 'retrying'].includes(name)) {
      throw new OperonResponseError(`no workflow ${name}`, 400);
    }
    const handles = await Promise.all(Array.from({ length: count }, () => invoke[name]!(...args)));
    return handles.map((handle) => handle.getWorkflowUUID());
  }

  /** A send from outside any workflow. */
  @PostApi('/send')
  static async send(ctx: HandlerContext, destination: string, topic: string, message: unknown): Promise<{ sent: true }> {
    await ctx.send(destination, message, topic);
    return { sent: true };
  }
}
