/**
 * W3 with several Operon processes on one Postgres: 1, 2 and 4 worker processes, each its own
 * executor (a generated executor id, its own lease and heartbeat), each driving the same closed
 * loop as the single-process figures. All of a run's processes warm up, then start their timed
 * phase on the same `go`; the run's throughput is every process's workflows over the time from
 * `go` to the last one done. Statements are counted by the server over that same window (all
 * processes together, heartbeats included), so a figure above the single process's W3 is what
 * running beside others costs each workflow.
 */
import { performance } from 'node:perf_hooks';
import { withClient, type ServerAddress } from './bench-server.js';
import type { Job, ThroughputResult } from './protocol.js';
import { read, reset, type Row } from './statement-count.js';
import { median, round } from './stats.js';
import type { WorkerProcess } from './worker-process.js';

export interface FleetRun {
  readonly processes: number;
  readonly wfPerSec: number;
  /** Medians over the processes of their own p50 and p99. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Null where pg_stat_statements is not loaded. */
  readonly statementsPerWorkflow: number | null;
  /** The executors' heartbeat statements per second, all processes together. */
  readonly heartbeatsPerSec: number | null;
  readonly perProcess: readonly ThroughputResult[];
}

/** The heartbeat (system-db/executors.ts): one statement per executor per interval. */
const HEARTBEAT = /WITH beat AS/;

export async function measureFleetRun(options: {
  readonly address: ServerAddress;
  readonly databases: readonly string[];
  readonly processes: number;
  readonly job: Extract<Job, { kind: 'throughput-synced' }>;
  readonly spawn: (job: Job) => WorkerProcess;
  readonly deadlineMs: number;
  /** Count statements too (pg_stat_statements is loaded). */
  readonly countStatements: boolean;
}): Promise<FleetRun> {
  const { address, databases, processes, job, deadlineMs } = options;
  const workers = Array.from({ length: processes }, () => options.spawn(job));
  try {
    await Promise.all(workers.map((w) => w.expect('paused', deadlineMs)));
    return await withClient(address, 'postgres', async (client) => {
      if (options.countStatements) await reset(client, databases);
      const started = performance.now();
      for (const w of workers) w.send({ type: 'go' });
      const done = await Promise.all(workers.map((w) => w.expect('done', deadlineMs)));
      const seconds = (performance.now() - started) / 1000;
      const rows: Row[] | undefined = options.countStatements ? await read(client, databases) : undefined;
      await Promise.all(workers.map((w) => w.finish()));
      const perProcess = done.map((d) => {
        if (!d.throughput) throw new Error('a fleet worker reported no throughput');
        return d.throughput;
      });
      const workflows = perProcess.reduce((sum, t) => sum + t.workflows, 0);
      const calls = (filter: (row: Row) => boolean) => (rows ?? []).filter(filter).reduce((sum, row) => sum + Number(row.calls), 0);
      return {
        processes,
        wfPerSec: round(workflows / seconds, 1),
        p50Ms: round(median(perProcess.map((t) => t.p50Ms)), 2),
        p99Ms: round(median(perProcess.map((t) => t.p99Ms)), 2),
        statementsPerWorkflow: rows ? round(calls(() => true) / workflows, 2) : null,
        heartbeatsPerSec: rows ? round(calls((row) => HEARTBEAT.test(row.query)) / seconds, 2) : null,
        perProcess,
      };
    });
  } finally {
    for (const w of workers) w.kill('SIGKILL');
  }
}
