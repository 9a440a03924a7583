/**
 * The orchestrator's side of one worker process: spawn it with its job, wait for its messages,
 * kill it. Every live worker is tracked so that nothing outlives the benchmark.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { DatabaseTarget, Framework, Job, OrchestratorMessage, WorkerMessage } from './protocol.js';

const live = new Set<WorkerProcess>();

/** Kills every worker still running (on failure or interrupt). */
export function killAllWorkers(): void {
  for (const worker of live) worker.kill('SIGKILL');
}

/**
 * The way a bench script stops: every worker killed, then its Postgres stopped (a failure to stop
 * it logged, not thrown). Also done on SIGINT or SIGTERM, which then exit with 130.
 */
export function stopOnExit(server: { stop(): Promise<void> }, log: (line: string) => void): () => Promise<void> {
  const stop = async (): Promise<void> => {
    killAllWorkers();
    await server.stop().catch((error: Error) => log(`could not stop Postgres: ${error.message}`));
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping workers and Postgres`);
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  return stop;
}

const TAIL_LINES = 30;

/** Lines a framework logs when Postgres aborted one of its transactions for contention. */
const CONTENTION_LINE = /could not serialize|serialization failure|deadlock detected|40001|40P01/i;

/** Another entry script than the framework's own worker (in dist/), variables added to its environment, Node flags. */
export interface WorkerEntry {
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
  readonly execArgv?: readonly string[];
}

export class WorkerProcess {
  /** `performance.now()` just before the process was spawned. */
  readonly spawnedAt: number;
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly inbox: WorkerMessage[] = [];
  private waiter: (() => void) | undefined;
  private exitCode: number | null | undefined;
  /** `performance.now()` when the worker reported `ready` (its cold start ends there). */
  readyAt: number | undefined;
  private readonly output: string[] = [];
  /** How many lines of its output so far told of a serialization failure or a deadlock. */
  contentionLines = 0;

  constructor(
    readonly framework: Framework,
    readonly job: Job,
    database: DatabaseTarget,
    deadlineMs: number,
    entry?: WorkerEntry,
  ) {
    const script = fileURLToPath(new URL(`./${entry?.script ?? `${framework}-worker.js`}`, import.meta.url));
    this.spawnedAt = performance.now();
    this.child = fork(script, [], {
      env: {
        ...process.env,
        BENCH_JOB: JSON.stringify(job),
        BENCH_DATABASE: JSON.stringify(database),
        BENCH_DEADLINE_MS: String(deadlineMs),
        ...entry?.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      ...(entry?.execArgv ? { execArgv: [...process.execArgv, ...entry.execArgv] } : {}),
    });
    live.add(this);
    const keep = (chunk: Buffer): void => {
      const lines = chunk.toString('utf8').split('\n').filter(Boolean);
      this.contentionLines += lines.filter((line) => CONTENTION_LINE.test(line)).length;
      this.output.push(...lines);
      if (this.output.length > TAIL_LINES) this.output.splice(0, this.output.length - TAIL_LINES);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') this.readyAt = performance.now();
      this.inbox.push(message);
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        live.delete(this);
        this.wake();
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private describe(): string {
    return `${this.framework} worker (${this.job.kind}${'workload' in this.job ? ` ${this.job.workload}` : ''}, pid ${this.child.pid})`;
  }

  /** The next message of type `type`; fails if the worker reports a failure, exits, or takes longer than `timeoutMs`. */
  async expect<T extends WorkerMessage['type']>(type: T, timeoutMs: number): Promise<Extract<WorkerMessage, { type: T }>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const message = this.inbox.shift();
      if (message?.type === type) return message as Extract<WorkerMessage, { type: T }>;
      if (message?.type === 'failed') throw new Error(`${this.describe()} failed: ${message.message}`);
      if (message) continue;
      if (this.exitCode !== undefined) {
        throw new Error(`${this.describe()} exited (${this.exitCode}) before it reported "${type}". Its last output:\n${this.output.join('\n')}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.describe()} did not report "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  send(message: OrchestratorMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exitCode === undefined) this.child.kill(signal);
  }

  /** Waits for the worker to exit by itself; kills it if it has not within `timeoutMs`. */
  async finish(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!exited) {
      this.kill('SIGKILL');
      await this.exited;
    }
  }
}
