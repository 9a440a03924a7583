/**
 * `pnpm bench`: Operon and DBOS Transact side by side on one Postgres. Commit ceiling, throughput
 * of W0/W3/W3S at each concurrency (a fresh process per framework, workload and concurrency,
 * interleaved runs, medians), SQL statements per workflow, recovery after SIGKILL, cold start.
 * Progress goes to stderr; the tables and, as the very last line, `BENCH-JSON {...}` to stdout.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { dropDatabases, externalServer, prepareDatabases, startBenchServer, withClient, type BenchServer } from './bench-server.js';
import { measureCommitCeiling } from './commit-ceiling.js';
import { measureFenceCost, type FenceCost } from './fence-cost.js';
import { measureFleetRun, type FleetRun } from './fleet-throughput.js';
import { parseOptions, type BenchOptions } from './options.js';
import { WORKLOADS, type DatabaseTarget, type Framework, type Job, type ThroughputResult, type Workload } from './protocol.js';
import { benchJsonLine, emptySummary, medianCell, type BenchSummary } from './report.js';
import { renderMarkdown, type StatementBreakdown } from './report-markdown.js';
import { countStatements, type StatementCount } from './statement-count.js';
import { median, round } from './stats.js';
import { killAllWorkers, stopOnExit, WorkerProcess } from './worker-process.js';

const started = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
};

interface Context {
  readonly options: BenchOptions;
  readonly server: BenchServer;
  readonly databases: { readonly app: string; readonly system: Record<Framework, string> };
  readonly failures: string[];
}

function target(ctx: Context, framework: Framework): DatabaseTarget {
  return {
    host: ctx.server.host,
    port: ctx.server.port,
    user: ctx.server.user,
    password: ctx.server.password,
    appDatabase: ctx.databases.app,
    systemDatabase: ctx.databases.system[framework],
    poolSize: ctx.options.poolSize,
  };
}

function spawnWorker(ctx: Context, framework: Framework, job: Job): WorkerProcess {
  return new WorkerProcess(framework, job, target(ctx, framework), ctx.options.workerDeadlineMs);
}

/** Runs `work`; on failure records it (the run then exits non-zero) and returns undefined. */
async function attempt<T>(ctx: Context, what: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    const message = `${what}: ${(error as Error).message}`;
    ctx.failures.push(message);
    log(`FAILED ${message}`);
    killAllWorkers();
    return undefined;
  }
}

async function measureCeiling(ctx: Context, summary: BenchSummary): Promise<void> {
  for (const clients of ctx.options.concurrencies) {
    const rate = await attempt(ctx, `commit ceiling at ${clients} clients`, () =>
      measureCommitCeiling(ctx.server, ctx.databases.app, clients, ctx.options.ceilingWarmupMs, ctx.options.ceilingMeasureMs),
    );
    summary.ceiling[String(clients)] = rate === undefined ? null : round(rate, 0);
    log(`commit ceiling, ${clients} clients: ${summary.ceiling[String(clients)]} INSERT/s`);
  }
}

async function throughputOnce(ctx: Context, framework: Framework, workload: Workload, concurrency: number): Promise<ThroughputResult> {
  const { warmup, timed, workerDeadlineMs } = ctx.options;
  const worker = spawnWorker(ctx, framework, { kind: 'throughput', workload, concurrency, warmup, timed });
  const done = await worker.expect('done', workerDeadlineMs);
  await worker.finish();
  if (!done.throughput) throw new Error('the worker reported no throughput');
  return done.throughput;
}

type Runs = Record<Framework, Record<Workload, Record<string, ThroughputResult[]>>>;

async function measureThroughput(ctx: Context, summary: BenchSummary): Promise<Runs> {
  const { options } = ctx;
  const runs = Object.fromEntries(
    options.frameworks.map((f) => [f, Object.fromEntries(WORKLOADS.map((w) => [w, Object.fromEntries(options.concurrencies.map((c) => [String(c), []]))]))]),
  ) as unknown as Runs;
  let turn = 0;
  for (let run = 1; run <= options.runs; run++) {
    for (const workload of WORKLOADS) {
      for (const concurrency of options.concurrencies) {
        // Interleaved, and alternating which framework goes first, so drift on a shared machine hits both alike.
        const order = turn++ % 2 === 0 ? options.frameworks : [...options.frameworks].reverse();
        for (const framework of order) {
          const result = await attempt(ctx, `${framework} ${workload} at concurrency ${concurrency} (run ${run})`, () =>
            throughputOnce(ctx, framework, workload, concurrency),
          );
          if (!result) continue;
          runs[framework][workload][String(concurrency)]!.push(result);
          log(
            `run ${run}/${options.runs} ${framework.padEnd(6)} ${workload.padEnd(3)} c=${String(concurrency).padEnd(2)} ` +
              `${result.wfPerSec} wf/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  rss ${result.rssMB} MB`,
          );
        }
      }
    }
  }
  for (const framework of options.frameworks) {
    for (const workload of WORKLOADS) {
      for (const c of options.concurrencies) {
        summary.throughput[framework][workload][String(c)] = medianCell(runs[framework][workload][String(c)]!, median);
      }
    }
  }
  return runs;
}

const STATUS_SCHEMA: Record<Framework, string> = { operon: 'operon', dbos: 'dbos' };

/** How many of a run's recovery workflows recorded an output that holds the release message. */
const OUTPUTS_WITH_MESSAGE: Record<Framework, string> = {
  operon: `SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid LIKE $1 AND output LIKE '%release%'`,
  // DBOS 5 keeps outputs in their own table.
  dbos: `SELECT count(*)::int AS n FROM dbos.workflow_output WHERE workflow_uuid LIKE $1 AND output LIKE '%release%'`,
};

/** Setup (start, block, SIGKILL), then the timed recovery: spawn until every workflow is SUCCESS. */
async function recoveryOnce(ctx: Context, framework: Framework): Promise<{ seconds: number; readyMs: number }> {
  const { recoveryWorkflows: count, workerDeadlineMs } = ctx.options;
  const prefix = `recovery-${framework}-${Date.now().toString(36)}`;
  const setup = spawnWorker(ctx, framework, { kind: 'recovery-setup', count, prefix });
  await setup.expect('blocked', workerDeadlineMs);
  setup.kill('SIGKILL');
  await setup.exited;
  log(`recovery ${framework}: ${count} workflows blocked in recv; killed the process with SIGKILL`);
  return withClient(ctx.server, ctx.databases.system[framework], async (client) => {
    const pending = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${STATUS_SCHEMA[framework]}.workflow_status WHERE workflow_uuid LIKE $1 AND status = 'PENDING'`,
      [`${prefix}-%`],
    );
    if (pending.rows[0]!.n !== count) throw new Error(`expected ${count} PENDING workflows after the kill, found ${pending.rows[0]!.n}`);
    const recovering = spawnWorker(ctx, framework, { kind: 'recovery', count, prefix });
    const deadline = recovering.spawnedAt + workerDeadlineMs;
    try {
      for (;;) {
        const { rows } = await client.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM ${STATUS_SCHEMA[framework]}.workflow_status WHERE workflow_uuid LIKE $1 GROUP BY status`,
          [`${prefix}-%`],
        );
        const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
        if ((byStatus['SUCCESS'] ?? 0) === count) break;
        // In flight: PENDING, or (DBOS, which recovers through a queue) ENQUEUED; anything else is an end.
        const failed = Object.entries(byStatus).filter(([status]) => !['SUCCESS', 'PENDING', 'ENQUEUED'].includes(status));
        if (failed.length) throw new Error(`recovered workflows ended badly: ${JSON.stringify(byStatus)}`);
        if (performance.now() > deadline) throw new Error(`not all recovered within ${workerDeadlineMs} ms: ${JSON.stringify(byStatus)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const seconds = (performance.now() - recovering.spawnedAt) / 1000;
      const readyMs = (recovering.readyAt ?? performance.now()) - recovering.spawnedAt;
      recovering.send({ type: 'go' });
      await recovering.finish();
      // Each recovered workflow replayed its step and returned the message sent after the crash.
      const released = await client.query<{ n: number }>(OUTPUTS_WITH_MESSAGE[framework], [`${prefix}-%`]);
      if (released.rows[0]!.n !== count) throw new Error(`only ${released.rows[0]!.n} of ${count} recovered workflows returned their message`);
      return { seconds, readyMs };
    } finally {
      recovering.kill('SIGKILL');
    }
  });
}

async function measureColdStart(ctx: Context, samples: Record<Framework, number[]>): Promise<void> {
  const once = async (framework: Framework): Promise<number> => {
    const worker = spawnWorker(ctx, framework, { kind: 'cold-start' });
    await worker.expect('ready', ctx.options.workerDeadlineMs);
    const ms = worker.readyAt! - worker.spawnedAt;
    await worker.expect('done', ctx.options.workerDeadlineMs);
    await worker.finish();
    return ms;
  };
  // One discarded start each: the schemas are migrated and the OS has the modules cached, for both.
  if (ctx.options.coldStartDiscard) {
    for (const framework of ctx.options.frameworks) await attempt(ctx, `${framework} cold start (discarded)`, () => once(framework));
  }
  for (let i = 0; i < ctx.options.coldStartSamples; i++) {
    const order = i % 2 === 0 ? ctx.options.frameworks : [...ctx.options.frameworks].reverse();
    for (const framework of order) {
      const ms = await attempt(ctx, `${framework} cold start`, () => once(framework));
      if (ms !== undefined) samples[framework].push(round(ms, 1));
    }
  }
}

async function measureStatements(ctx: Context, framework: Framework, workload: Workload): Promise<StatementCount> {
  const { statementWarmup: warmup, statementWorkflows: count, workerDeadlineMs } = ctx.options;
  const worker = spawnWorker(ctx, framework, { kind: 'statements', workload, warmup, count });
  try {
    const databases = [ctx.databases.app, ctx.databases.system[framework]];
    const counted = await countStatements(ctx.server, ctx.server.statementLog, worker, databases, count, workerDeadlineMs, ctx.options.statementIdleMs);
    await worker.finish();
    return counted;
  } finally {
    worker.kill('SIGKILL');
  }
}

/** What the phases collect besides the summary, for the tables and the full results file. */
interface Collected {
  postgresVersion: string;
  runs: Runs | undefined;
  recoveries: Partial<Record<Framework, { seconds: number; readyMs: number }>>;
  coldStarts: Record<Framework, number[]>;
  statementCounts: Partial<Record<Framework, Partial<Record<Workload, StatementCount>>>>;
  fleetRuns: FleetRun[];
  fenceCosts: FenceCost[];
}

async function measureAll(ctx: Context, summary: BenchSummary): Promise<Collected> {
  const { options, server } = ctx;
  const collected: Collected = {
    postgresVersion: '',
    runs: undefined,
    recoveries: {},
    coldStarts: { operon: [], dbos: [] },
    statementCounts: {},
    fleetRuns: [],
    fenceCosts: [],
  };
  collected.postgresVersion = await withClient(server, 'postgres', async (c) =>
    (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v.split(' ')[0]!,
  );

  log('commit ceiling');
  await measureCeiling(ctx, summary);

  log('throughput');
  collected.runs = await measureThroughput(ctx, summary);

  for (const framework of options.frameworks) {
    log(`recovery ${framework}: ${options.recoveryWorkflows} workflows`);
    const result = await attempt(ctx, `${framework} recovery`, () => recoveryOnce(ctx, framework));
    if (!result) continue;
    collected.recoveries[framework] = result;
    summary.recovery[framework].seconds = round(result.seconds, 2);
    log(`recovery ${framework}: all ${options.recoveryWorkflows} SUCCESS ${result.seconds.toFixed(2)} s after spawn`);
  }

  log('cold start');
  await measureColdStart(ctx, collected.coldStarts);
  for (const framework of options.frameworks) {
    const samples = collected.coldStarts[framework];
    if (samples.length) summary.coldStartMs[framework] = round(median(samples), 0);
    log(`cold start ${framework}: median ${summary.coldStartMs[framework]} ms of ${samples.join(', ')}`);
  }

  // Last, because it restarts the server with pg_stat_statements loaded.
  const statsLoaded = await server.enableStatementStats();
  if (!statsLoaded) ctx.failures.push('statement counts: pg_stat_statements is not loaded on this server');
  for (const framework of statsLoaded ? options.frameworks : []) {
    for (const workload of options.statementWorkloads) {
      const counted = await attempt(ctx, `${framework} ${workload} statements`, () => measureStatements(ctx, framework, workload));
      if (!counted) continue;
      (collected.statementCounts[framework] ??= {})[workload] = counted;
      if (workload !== 'W3S') summary.statements[framework][workload] = round(counted.perWorkflow, 1);
      log(
        `statements ${framework} ${workload}: ${counted.perWorkflow.toFixed(2)} per workflow (log_statement: ${counted.logPerWorkflow?.toFixed(2) ?? 'n/a'}, ` +
          `pg_stat_statements: ${counted.pgStatStatementsPerWorkflow.toFixed(2)}, background while idle: ${counted.background.toFixed(1)})`,
      );
    }
  }
  // After the statement counts: with pg_stat_statements loaded, the fleet's statements are counted too.
  if (options.frameworks.includes('operon')) await measureFleet(ctx, summary, collected, statsLoaded);
  return collected;
}

/** W3 with 1, 2 and 4 Operon processes on one Postgres, then fenced against unfenced writes. */
async function measureFleet(ctx: Context, summary: BenchSummary, collected: Collected, countStatements: boolean): Promise<void> {
  const { options, server } = ctx;
  const { fleetConcurrency: concurrency, fleetWarmup: warmup, fleetTimed: timed } = options;
  const databases = [ctx.databases.app, ctx.databases.system.operon];
  let one: number | null = null;
  for (const processes of options.fleetProcesses) {
    const run = await attempt(ctx, `operon W3 with ${processes} processes`, () =>
      measureFleetRun({
        address: server,
        databases,
        processes,
        job: { kind: 'throughput-synced', workload: 'W3', concurrency, warmup, timed },
        spawn: (job) => spawnWorker(ctx, 'operon', job),
        deadlineMs: options.workerDeadlineMs,
        countStatements,
      }),
    );
    if (!run) continue;
    collected.fleetRuns.push(run);
    if (processes === 1) one = run.wfPerSec;
    summary.fleet.processes[String(processes)] = {
      wfPerSec: run.wfPerSec,
      p50Ms: run.p50Ms,
      p99Ms: run.p99Ms,
      statementsPerWorkflow: run.statementsPerWorkflow,
      heartbeatsPerSec: run.heartbeatsPerSec,
      vsOneProcess: one === null ? null : round(run.wfPerSec / one, 2),
    };
    log(
      `fleet: ${processes} process(es) x c=${concurrency}: ${run.wfPerSec} wf/s (per process ${run.perProcess.map((p) => p.wfPerSec).join(', ')}), ` +
        `p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, ${run.statementsPerWorkflow ?? 'n/a'} statements per workflow, ${run.heartbeatsPerSec ?? 'n/a'} heartbeats/s`,
    );
  }
  for (const c of options.fenceConcurrencies) {
    const cost = await attempt(ctx, `fence cost at concurrency ${c}`, () =>
      measureFenceCost(server, { app: ctx.databases.app, system: ctx.databases.system.operon }, c, options.fenceRoundMs, options.fenceRounds),
    );
    if (!cost) continue;
    collected.fenceCosts.push(cost);
    const { concurrency: _c, ...cell } = cost;
    summary.fencing[String(c)] = cell;
    log(`fence cost, c=${c}: fenced ${cost.fencedWfPerSec} wf/s, unfenced ${cost.unfencedWfPerSec} wf/s: ${cost.costPercent}% (${cost.usPerWorkflow} µs per workflow)`);
  }
}

/** Prints the tables and the BENCH-JSON line (last), and writes the full results. */
function report(ctx: Context, summary: BenchSummary, collected: Collected): void {
  const { options, server } = ctx;
  const { statementCounts } = collected;
  const environment =
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Postgres ${collected.postgresVersion} (${server.kind}, fsync on), ` +
    `${options.poolSize} connections per pool for both frameworks; ${options.runs} run(s) of ${options.timed} timed workflows after ${options.warmup} warm-up.`;
  const breakdowns: StatementBreakdown[] = [];
  for (const framework of options.frameworks) {
    for (const workload of ['W0', 'W3'] as const) {
      const counted = statementCounts[framework]?.[workload];
      if (!counted) continue;
      const { lines, background, pgStatStatementsPerWorkflow, logPerWorkflow } = counted;
      breakdowns.push({ framework, workload, lines, background, pgStatStatementsPerWorkflow, logPerWorkflow });
    }
  }
  const w3s = (framework: Framework): number | null => {
    const counted = statementCounts[framework]?.W3S;
    return counted ? round(counted.perWorkflow, 1) : null;
  };
  const markdown = renderMarkdown(summary, { environment, breakdowns, extraStatements: { operon: { W3S: w3s('operon') }, dbos: { W3S: w3s('dbos') } } });

  const outputPath = options.output ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json');
  if (outputPath !== '') {
    mkdirSync(dirname(outputPath), { recursive: true });
    const details = {
      environment,
      options: { ...options, databaseUrl: options.databaseUrl ? '(given)' : undefined },
      throughputRuns: collected.runs,
      statementCounts,
      recovery: collected.recoveries,
      fleetRuns: collected.fleetRuns,
      fenceCosts: collected.fenceCosts,
      coldStartSamplesMs: collected.coldStarts,
      failures: ctx.failures,
      elapsedSeconds: round((performance.now() - started) / 1000, 1),
    };
    writeFileSync(outputPath, `${JSON.stringify({ ...summary, details }, null, 2)}\n`);
    log(`full results in ${outputPath}`);
  }
  for (const failure of ctx.failures) log(`failure: ${failure}`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  process.stdout.write(`${markdown}\n${benchJsonLine(summary)}\n`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  log(
    `${options.size} run: frameworks ${options.frameworks.join(', ')}; concurrency ${options.concurrencies.join('/')}; ` +
      `${options.warmup} warm-up + ${options.timed} timed workflows x ${options.runs} run(s)`,
  );
  const server = options.databaseUrl ? externalServer(options.databaseUrl) : await startBenchServer(log, { durable: options.size !== 'tiny' });
  const stop = stopOnExit(server, log);

  const prefix = options.databasePrefix;
  const ctx: Context = {
    options,
    server,
    databases: { app: `${prefix}_app`, system: { operon: `${prefix}_operon_sys`, dbos: `${prefix}_dbos_sys` } },
    failures: [],
  };
  const allDatabases = [ctx.databases.app, ctx.databases.system.operon, ctx.databases.system.dbos];
  const summary = emptySummary(options.size !== 'full', options.concurrencies, options.recoveryWorkflows, {
    processes: options.fleetProcesses,
    concurrency: options.fleetConcurrency,
    fenceConcurrencies: options.fenceConcurrencies,
  });
  let collected: Collected;
  try {
    await prepareDatabases(server, allDatabases, ctx.databases.app);
    collected = await measureAll(ctx, summary);
    if (server.kind === 'external') await dropDatabases(server, allDatabases);
  } finally {
    await stop();
  }
  report(ctx, summary, collected);
  return ctx.failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    killAllWorkers();
    process.stderr.write(`bench failed: ${error.message}\n`);
    process.exitCode = 1;
  },
);
