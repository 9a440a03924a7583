/**
 * `pnpm bench:queues [--seconds S] [--frameworks operon,dbos]`: Operon's queue beside DBOS
 * Transact's on one Postgres. Per framework: 4 worker processes serve one queue of global
 * concurrency 20, 16 producers (4 per process) enqueue the same two-step workflow.
 *
 * - Saturated: every producer enqueues as fast as it can. Throughput is the workflows that ended
 *   in the S seconds from `go` (or all of them over the time they took, if they ended sooner).
 *   What is still waiting after the window is cancelled in SQL, so the next phase starts empty.
 * - Paced: every producer enqueues one workflow each 500 ms (32/s in all, below both systems'
 *   saturated rate). Start latency (enqueue to the first line of the workflow's body, one clock on
 *   one machine) is taken here, where it is the queue's own delay rather than time in a backlog.
 * - Aborts, counted the same way for both: the delta of pg_stat_database xact_rollback and
 *   deadlocks over the framework's databases across both phases, and the lines the workers logged
 *   that tell of a serialization failure or a deadlock.
 *
 * Progress goes to stderr; the table and, last, `QUEUES-JSON {...}` to stdout.
 */
import { performance } from 'node:perf_hooks';
import { prepareDatabases, startBenchServer, withClient, type BenchServer } from './bench-server.js';
import { QUEUE_CONCURRENCY, type DatabaseTarget, type Framework, type Job } from './protocol.js';
import { percentile, round } from './stats.js';
import { killAllWorkers, WorkerProcess } from './worker-process.js';
import { progressLog } from './script-cli.js';

const log = progressLog('queues');

const PROCESSES = 4;
const PRODUCERS_PER_PROCESS = 4;
/** Per producer: more than either system ends within the window here, so the window bounds the run. */
const SATURATED_PER_PRODUCER = 400;
const PACED_PER_PRODUCER = 20;
const PACED_INTERVAL_MS = 500;
const WORKER_DEADLINE_MS = 180_000;

interface Options {
  readonly seconds: number;
  readonly frameworks: readonly Framework[];
}

function parse(argv: readonly string[]): Options {
  let seconds = 20;
  let frameworks: Framework[] = ['operon', 'dbos'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    const value = argv[++i] ?? '';
    if (arg === '--seconds' && Number.isInteger(Number(value)) && Number(value) > 0) seconds = Number(value);
    else if (arg === '--frameworks' && value.split(',').every((f) => f === 'operon' || f === 'dbos')) frameworks = value.split(',') as Framework[];
    else throw new Error(`usage: bench:queues [--seconds S (positive integer)] [--frameworks operon,dbos]; got ${arg} ${value}`);
  }
  return { seconds, frameworks };
}

const SCHEMA: Record<Framework, string> = { operon: 'operon', dbos: 'dbos' };

interface QueueFigures {
  readonly framework: Framework;
  readonly saturated: { readonly enqueued: number; readonly ended: number; readonly seconds: number; readonly wfPerSec: number; readonly startP50Ms: number; readonly startP99Ms: number };
  readonly paced: { readonly ended: number; readonly of: number; readonly startP50Ms: number; readonly startP99Ms: number; readonly startMaxMs: number };
  readonly aborts: { readonly xactRollback: number; readonly deadlocks: number; readonly contentionLogLines: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rollbacks(server: BenchServer, databases: readonly string[]): Promise<{ rollback: number; deadlocks: number }> {
  return withClient(server, 'postgres', async (client) => {
    const { rows } = await client.query<{ rollback: string; deadlocks: string }>(
      'SELECT coalesce(sum(xact_rollback), 0) AS rollback, coalesce(sum(deadlocks), 0) AS deadlocks FROM pg_stat_database WHERE datname = ANY($1)',
      [databases],
    );
    return { rollback: Number(rows[0]!.rollback), deadlocks: Number(rows[0]!.deadlocks) };
  });
}

async function measure(server: BenchServer, framework: Framework, app: string, system: string, seconds: number): Promise<QueueFigures> {
  const database: DatabaseTarget = { host: server.host, port: server.port, user: server.user, password: server.password, appDatabase: app, systemDatabase: system, poolSize: 10 };
  const prefix = `q-${framework}-${Date.now().toString(36)}`;
  const job: Job = { kind: 'queue', producers: PRODUCERS_PER_PROCESS, saturated: SATURATED_PER_PRODUCER, paced: PACED_PER_PRODUCER, pacedIntervalMs: PACED_INTERVAL_MS, prefix };
  const spawn = () => new WorkerProcess(framework, job, database, WORKER_DEADLINE_MS);
  // The first one alone: it creates the schema, which the others then find.
  const first = spawn();
  await first.expect('paused', WORKER_DEADLINE_MS);
  const others = Array.from({ length: PROCESSES - 1 }, spawn);
  await Promise.all(others.map((w) => w.expect('paused', WORKER_DEADLINE_MS)));
  const workers = [first, ...others];
  const table = `${SCHEMA[framework]}.workflow_status`;
  return withClient(server, system, async (client) => {
    const count = async (phase: string, statuses: readonly string[]): Promise<number> =>
      (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE workflow_uuid LIKE $1 AND status = ANY($2)`, [`${prefix}-${phase}-%`, statuses])).rows[0]!.n;
    const before = await rollbacks(server, [app, system]);
    const contentionBefore = workers.reduce((sum, w) => sum + w.contentionLines, 0);
    const total = PROCESSES * PRODUCERS_PER_PROCESS * SATURATED_PER_PRODUCER;

    log(`${framework}: saturated phase, ${total} workflows from ${PROCESSES * PRODUCERS_PER_PROCESS} producers, at most ${seconds} s`);
    const go = performance.now();
    for (const w of workers) w.send({ type: 'go' });
    const windowEnd = go + seconds * 1000;
    let ended = 0;
    while (performance.now() < windowEnd) {
      ended = await count('saturated', ['SUCCESS']);
      if (ended === total) break;
      await sleep(100);
    }
    const windowSeconds = Math.min(seconds, (performance.now() - go) / 1000);
    ended = ended === total ? total : await count('saturated', ['SUCCESS']);
    await Promise.all(workers.map((w) => w.expect('paused', WORKER_DEADLINE_MS)));
    const enqueued = await count('saturated', ['ENQUEUED', 'PENDING', 'SUCCESS', 'ERROR', 'CANCELLED']);
    const cancelled = await client.query(`UPDATE ${table} SET status = 'CANCELLED' WHERE workflow_uuid LIKE $1 AND status = 'ENQUEUED'`, [`${prefix}-saturated-%`]);
    log(`${framework}: ${ended} ended in ${windowSeconds.toFixed(1)} s (${round(ended / windowSeconds, 1)} wf/s); cancelled ${cancelled.rowCount} still waiting`);
    for (let waited = 0; (await count('saturated', ['PENDING'])) > 0; waited += 100) {
      if (waited > 30_000) throw new Error(`${framework}: saturated workflows still running 30 s after the window`);
      await sleep(100);
    }

    const paced = PROCESSES * PRODUCERS_PER_PROCESS * PACED_PER_PRODUCER;
    log(`${framework}: paced phase, ${paced} workflows, one per producer each ${PACED_INTERVAL_MS} ms`);
    for (const w of workers) w.send({ type: 'go' });
    await Promise.all(workers.map((w) => w.expect('paused', WORKER_DEADLINE_MS)));
    let pacedEnded = 0;
    for (let waited = 0; waited <= 30_000; waited += 100) {
      pacedEnded = await count('paced', ['SUCCESS']);
      if (pacedEnded === paced) break;
      await sleep(100);
    }
    // pg_stat_database lags its backends by up to a second.
    await sleep(1_500);
    const after = await rollbacks(server, [app, system]);
    for (const w of workers) w.send({ type: 'go' });
    const done = await Promise.all(workers.map((w) => w.expect('done', WORKER_DEADLINE_MS)));
    await Promise.all(workers.map((w) => w.finish()));
    const starts = (phase: 'saturated' | 'paced') => done.flatMap((d) => d.queueStartMs?.[phase] ?? []);
    const sat = starts('saturated');
    const pac = starts('paced');
    return {
      framework,
      saturated: { enqueued, ended, seconds: round(windowSeconds, 2), wfPerSec: round(ended / windowSeconds, 1), startP50Ms: round(percentile(sat, 50), 1), startP99Ms: round(percentile(sat, 99), 1) },
      paced: { ended: pacedEnded, of: paced, startP50Ms: round(percentile(pac, 50), 1), startP99Ms: round(percentile(pac, 99), 1), startMaxMs: round(Math.max(...pac), 1) },
      aborts: {
        xactRollback: after.rollback - before.rollback,
        deadlocks: after.deadlocks - before.deadlocks,
        contentionLogLines: workers.reduce((sum, w) => sum + w.contentionLines, 0) - contentionBefore,
      },
    };
  }).finally(() => {
    for (const w of workers) w.kill('SIGKILL');
  });
}

function table(results: readonly QueueFigures[]): string {
  const [a, b] = results;
  const ratio = (x: number | undefined, y: number | undefined) => (x !== undefined && y ? `${round(x / y, 2)}x` : 'n/a');
  const rows: [string, (r: QueueFigures) => number | string, boolean][] = [
    ['saturated throughput, wf/s', (r) => r.saturated.wfPerSec, true],
    ['saturated: ended / enqueued in the window', (r) => `${r.saturated.ended} / ${r.saturated.enqueued}`, false],
    ['saturated start latency p50, ms (time in backlog)', (r) => r.saturated.startP50Ms, true],
    ['paced start latency p50, ms', (r) => r.paced.startP50Ms, true],
    ['paced start latency p99, ms', (r) => r.paced.startP99Ms, true],
    ['paced start latency max, ms', (r) => r.paced.startMaxMs, false],
    ['paced: ended', (r) => `${r.paced.ended} / ${r.paced.of}`, false],
    ['aborts: xact_rollback delta', (r) => r.aborts.xactRollback, false],
    ['aborts: deadlocks delta', (r) => r.aborts.deadlocks, false],
    ['aborts: contention log lines', (r) => r.aborts.contentionLogLines, false],
  ];
  const head = `| | ${results.map((r) => r.framework).join(' | ')} |${b ? ` ${a!.framework} / ${b.framework} |` : ''}`;
  const sep = `|---|${results.map(() => '---:').join('|')}|${b ? '---:|' : ''}`;
  const body = rows.map(([name, cell, withRatio]) => {
    const cells = results.map((r) => String(cell(r)));
    const extra = b ? ` ${withRatio ? ratio(cell(a!) as number, cell(b) as number) : ''} |` : '';
    return `| ${name} | ${cells.join(' | ')} |${extra}`;
  });
  return [head, sep, ...body].join('\n');
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const server = await startBenchServer(log);
  const interrupted = (): void => {
    killAllWorkers();
    void server.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const app = 'queues_app';
    const systems: Record<Framework, string> = { operon: 'queues_operon_sys', dbos: 'queues_dbos_sys' };
    await prepareDatabases(server, [app, systems.operon, systems.dbos], app);
    const results: QueueFigures[] = [];
    for (const framework of options.frameworks) {
      const figures = await measure(server, framework, app, systems[framework], options.seconds);
      log(`${framework}: ${JSON.stringify(figures)}`);
      results.push(figures);
    }
    process.stdout.write(
      `Queue of global concurrency ${QUEUE_CONCURRENCY}, ${PROCESSES} worker processes, ${PROCESSES * PRODUCERS_PER_PROCESS} producers, ` +
        `saturated window ${options.seconds} s, paced ${PROCESSES * PRODUCERS_PER_PROCESS}x one per ${PACED_INTERVAL_MS} ms.\n\n${table(results)}\n\nQUEUES-JSON ${JSON.stringify(results)}\n`,
    );
  } finally {
    killAllWorkers();
    await server.stop();
  }
}

await main();
