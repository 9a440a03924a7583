/**
 * What the orchestrator and its worker processes say to each other. Each worker is a fresh Node
 * process running one framework and one job; it reads the job and the database from its
 * environment (so a cold start is timed from spawn, before any message could arrive) and reports
 * over the IPC channel.
 */

export const FRAMEWORKS = ['operon', 'dbos'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export const WORKLOADS = ['W0', 'W3', 'W3S'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** The server and databases a worker uses; the same app database for both frameworks. */
export interface DatabaseTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Holds `app_rows`, shared by both frameworks. */
  readonly appDatabase: string;
  /** This framework's own system database. */
  readonly systemDatabase: string;
  /** Connections per pool, the same for both frameworks (system pool and app pool each). */
  readonly poolSize: number;
}

export type Job =
  /** Closed loop: `concurrency` async loops, each awaiting its workflow's result before the next. */
  | { readonly kind: 'throughput'; readonly workload: Workload; readonly concurrency: number; readonly warmup: number; readonly timed: number }
  /**
   * Several processes at once on one Postgres: warm up, report `paused`, wait for `go` (sent to
   * every process of the run together), then the timed phase, as `throughput`.
   */
  | { readonly kind: 'throughput-synced'; readonly workload: Workload; readonly concurrency: number; readonly warmup: number; readonly timed: number }
  /** Warm up, report `paused`, wait for `go`, run `count` workflows one by one, report. */
  | { readonly kind: 'statements'; readonly workload: Workload; readonly warmup: number; readonly count: number }
  /** Start `count` workflows that each complete one step and then wait in `recv`; report once all wait. */
  | { readonly kind: 'recovery-setup'; readonly count: number; readonly prefix: string }
  /** Launch (which recovers), then release the `count` recovered workflows with one message each. */
  | { readonly kind: 'recovery'; readonly count: number; readonly prefix: string }
  /** Launch and report ready. */
  | { readonly kind: 'cold-start' }
  /**
   * The queue workload (one of several processes on one queue of concurrency QUEUE_CONCURRENCY):
   * report `paused`; on `go`, `producers` loops each enqueue `saturated` workflows as fast as they
   * can, report `paused`; on `go`, each enqueues `paced` workflows, one per `pacedIntervalMs`,
   * report `paused`; on `go`, report `done` with the start latencies of the workflows run here.
   */
  | { readonly kind: 'queue'; readonly producers: number; readonly saturated: number; readonly paced: number; readonly pacedIntervalMs: number; readonly prefix: string };

export interface ThroughputResult {
  readonly workflows: number;
  readonly seconds: number;
  readonly wfPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** `process.resourceUsage().maxRSS` at the end of the timed phase. */
  readonly rssMB: number;
  /** The worker process's CPU time (user + system, all its threads) over the timed phase. */
  readonly cpuMs: number;
}

export type WorkerMessage =
  /** The framework is launched and can run workflows. */
  | { readonly type: 'ready'; readonly launchMs: number }
  /** Statements job: warm-up done; waiting for `go`. */
  | { readonly type: 'paused' }
  /** Recovery setup: every workflow has recorded its step and waits in `recv`. */
  | { readonly type: 'blocked'; readonly count: number }
  | { readonly type: 'done'; readonly throughput?: ThroughputResult; readonly workflows?: number; readonly queueStartMs?: QueueStarts }
  | { readonly type: 'failed'; readonly message: string };

/** Enqueue → first line of the workflow's body, in ms, of the workflows a process ran, per phase. */
export interface QueueStarts {
  readonly saturated: number[];
  readonly paced: number[];
}

/** What a queued workflow gets: its phase and when it was enqueued (epoch ms; one machine, one clock). */
export interface QueuedInput {
  readonly phase: 'saturated' | 'paced';
  readonly enqueuedAt: number;
  readonly input: number;
}

/** The queue both frameworks serve in the queue workload, and its global limit. */
export const QUEUE_NAME = 'bench_queue';
export const QUEUE_CONCURRENCY = 20;

export type OrchestratorMessage = { readonly type: 'go' };

/** The ids of the recovery workflows of one run: the orchestrator counts their SUCCESS rows by prefix. */
export function recoveryWorkflowID(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(6, '0')}`;
}

export const RELEASE_TOPIC = 'release';

/** How long a recovery workflow waits for its message: far longer than any run, and still bounded. */
export const RECV_TIMEOUT_SECONDS = 900;
