/**
 * The part of a worker process that is the same for both frameworks: read the job, launch the
 * framework, run the job through the framework's adapter, report, shut down. Bounded: a worker
 * that outlives its deadline or loses its parent exits by itself.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { closedLoop, measureThroughput } from './load-driver.js';
import {
  recoveryWorkflowID,
  type DatabaseTarget,
  type Job,
  type OrchestratorMessage,
  type QueuedInput,
  type QueueStarts,
  type WorkerMessage,
  type Workload,
} from './protocol.js';

/** One framework, seen the same way by every job. */
export interface FrameworkAdapter {
  /** Connects and gets ready to run workflows, recovering this executor's pending ones as the framework does at start. */
  launch(): Promise<void>;
  /** Starts one workflow of `workload` under `workflowID` and awaits its result. */
  run(workload: Workload, input: number, workflowID: string): Promise<unknown>;
  /** Starts one recovery workflow (step, then `recv`); resolves once its start is recorded. */
  startBlocked(input: number, workflowID: string): Promise<void>;
  /** Sends `message` on the release topic to a workflow, from outside any workflow. */
  send(workflowID: string, message: string): Promise<void>;
  /** Enqueues one queued workflow (the queue workload) on QUEUE_NAME; resolves once it is recorded. */
  enqueue(input: QueuedInput, workflowID: string): Promise<void>;
  shutdown(): Promise<void>;
}

/** Start latencies of the queued workflows this process ran (their body's first line pushes here). */
export const queueStarts: QueueStarts = { saturated: [], paced: [] };

/** The queued workflow's body, the same for both frameworks: note when it started, then two steps. */
export function noteQueuedStart(input: QueuedInput): void {
  queueStarts[input.phase].push(Date.now() - input.enqueuedAt);
}

/** How many recovery workflows of this process have recorded their step and reached `recv`. */
export const blockedWorkflows = { count: 0 };

/** Release messages are sent by this many loops at once, for both frameworks. */
const RELEASE_CONCURRENCY = 16;

function readEnvJson<T>(name: string): T {
  const text = process.env[name];
  if (!text) throw new Error(`${name} is not set: workers are started by the benchmark's orchestrator`);
  return JSON.parse(text) as T;
}

export function workerDatabase(): DatabaseTarget {
  return readEnvJson<DatabaseTarget>('BENCH_DATABASE');
}

function report(message: WorkerMessage): void {
  process.send?.(message);
}

/** Messages from the orchestrator, handed out one at a time in order. */
function orchestratorInbox(): () => Promise<OrchestratorMessage> {
  const queued: OrchestratorMessage[] = [];
  const waiting: ((message: OrchestratorMessage) => void)[] = [];
  process.on('message', (message: OrchestratorMessage) => {
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queued.push(message);
  });
  return () => {
    const message = queued.shift();
    return message ? Promise.resolve(message) : new Promise((resolve) => waiting.push(resolve));
  };
}

export async function runWorker(createAdapter: () => Promise<FrameworkAdapter>): Promise<void> {
  const spawnedAt = performance.now();
  const job = readEnvJson<Job>('BENCH_JOB');
  const deadlineMs = Number(process.env.BENCH_DEADLINE_MS ?? 600_000);
  const deadline = setTimeout(() => {
    report({ type: 'failed', message: `worker exceeded its deadline of ${deadlineMs} ms` });
    process.exit(3);
  }, deadlineMs);
  deadline.unref();
  // The orchestrator is gone (crashed or killed): so is the reason to run.
  process.on('disconnect', () => process.exit(4));
  const nextMessage = orchestratorInbox();
  try {
    const adapter = await createAdapter();
    await adapter.launch();
    report({ type: 'ready', launchMs: performance.now() - spawnedAt });
    await runJob(job, adapter, nextMessage);
    await adapter.shutdown();
    clearTimeout(deadline);
    process.disconnect?.();
    // A framework that leaves a timer or socket behind must not keep the orchestrator waiting.
    setTimeout(() => process.exit(0), 2_000).unref();
  } catch (error) {
    report({ type: 'failed', message: (error as Error)?.stack ?? String(error) });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  }
}

async function runJob(job: Job, adapter: FrameworkAdapter, nextMessage: () => Promise<OrchestratorMessage>): Promise<void> {
  switch (job.kind) {
    case 'cold-start':
      report({ type: 'done' });
      return;
    case 'throughput': {
      const throughput = await measureThroughput(job.concurrency, job.warmup, job.timed, (input) =>
        adapter.run(job.workload, input, randomUUID()),
      );
      report({ type: 'done', throughput });
      return;
    }
    case 'throughput-synced': {
      const run = (input: number) => adapter.run(job.workload, input, randomUUID());
      await closedLoop(job.concurrency, job.warmup, run);
      report({ type: 'paused' });
      await nextMessage();
      const throughput = await measureThroughput(job.concurrency, 0, job.timed, (input) => run(job.warmup + input));
      report({ type: 'done', throughput });
      return;
    }
    case 'statements': {
      await closedLoop(1, job.warmup, (input) => adapter.run(job.workload, input, randomUUID()));
      report({ type: 'paused' });
      await nextMessage();
      await closedLoop(1, job.count, (input) => adapter.run(job.workload, input, randomUUID()));
      report({ type: 'done', workflows: job.count });
      // Stay up, idle, while the orchestrator measures the background statements of a live process.
      await nextMessage();
      return;
    }
    case 'recovery-setup': {
      await closedLoop(RELEASE_CONCURRENCY, job.count, (input) => adapter.startBlocked(input, recoveryWorkflowID(job.prefix, input)));
      while (blockedWorkflows.count < job.count) await new Promise((resolve) => setTimeout(resolve, 20));
      report({ type: 'blocked', count: blockedWorkflows.count });
      // Waits here for SIGKILL.
      await nextMessage();
      return;
    }
    case 'queue': {
      report({ type: 'paused' });
      const produce = async (phase: QueuedInput['phase'], count: number, intervalMs: number) => {
        await nextMessage();
        await Promise.all(
          Array.from({ length: job.producers }, async (_, p) => {
            // Paced producers start spread over one interval, not all at once.
            if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * intervalMs));
            for (let i = 0; i < count; i++) {
              const started = Date.now();
              await adapter.enqueue({ phase, enqueuedAt: Date.now(), input: i }, `${job.prefix}-${phase}-${process.pid}-${p}-${i}`);
              if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + intervalMs - Date.now())));
            }
          }),
        );
        report({ type: 'paused' });
      };
      await produce('saturated', job.saturated, 0);
      await produce('paced', job.paced, job.pacedIntervalMs);
      await nextMessage();
      report({ type: 'done', queueStartMs: queueStarts });
      return;
    }
    case 'recovery': {
      await closedLoop(RELEASE_CONCURRENCY, job.count, (input) => adapter.send(recoveryWorkflowID(job.prefix, input), 'release'));
      report({ type: 'done', workflows: job.count });
      // The orchestrator watches the database until every workflow is SUCCESS, then says go.
      await nextMessage();
      return;
    }
  }
}

