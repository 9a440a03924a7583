/**
 * `pnpm bench:retention [--workflows N] [--concurrency C] [--seconds S]`: how long retention
 * takes to delete N ended workflows (default 1,000,000, each with W3's records: two operation
 * outputs, a transaction output and its fence) and what it does to a W3 load running beside it.
 * The same W3 load is first measured for S seconds with nothing else running (the peer); then a
 * runtime with `management.retentionDays: 1` starts, sweeps at start, and the load runs until
 * the last old workflow is gone. Prints both loads' p50, p99, worst latency and longest gap
 * without a completed workflow, and their ratios.
 */
import { performance } from 'node:perf_hooks';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { prepareDatabases, startBenchServer, withClient, type BenchServer } from './bench-server.js';
import { BenchOps } from './operon-app.js';
import { percentile, round } from './stats.js';
import { parseIntegerFlags, progressLog } from './script-cli.js';

const log = progressLog('retention');

interface Options {
  readonly workflows: number;
  readonly concurrency: number;
  readonly seconds: number;
}

function parse(argv: readonly string[]): Options {
  return parseIntegerFlags(argv, { workflows: 1_000_000, concurrency: 16, seconds: 10 }, 'usage: bench:retention [--workflows N] [--concurrency C] [--seconds S] (positive integers)');
}

const DAY_MS = 86_400_000;
const SEED_CHUNK = 100_000;

/** N ended W3 workflows, ten days old, with their records in both databases. */
async function seed(server: BenchServer, system: string, app: string, workflows: number): Promise<void> {
  const at = Date.now() - 10 * DAY_MS;
  for (let from = 1; from <= workflows; from += SEED_CHUNK) {
    const to = Math.min(workflows, from + SEED_CHUNK - 1);
    const uuid = `'old-' || lpad(i::text, 8, '0')`;
    await withClient(server, system, async (client) => {
      await client.query(
        `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, output, created_at, updated_at)
         SELECT ${uuid}, 'SUCCESS', 'BenchOps.w3', 'seed', '[1]', '"done"', $3::bigint, $3::bigint + 5 FROM generate_series($1::int, $2::int) i`,
        [from, to, at],
      );
      await client.query(
        `INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, created_at)
         SELECT ${uuid}, f, CASE f WHEN 0 THEN 'BenchOps.stepA' ELSE 'BenchOps.stepB' END, '{"step":"A"}', $3::bigint
         FROM generate_series($1::int, $2::int) i, (VALUES (0), (2)) AS fs(f)`,
        [from, to, at],
      );
    });
    await withClient(server, app, async (client) => {
      await client.query(
        `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at)
         SELECT ${uuid}, 1, 'BenchOps.insertRow', '"1"', $3::bigint FROM generate_series($1::int, $2::int) i`,
        [from, to, at],
      );
      await client.query(`INSERT INTO operon.workflow_owners (workflow_uuid, owner, epoch) SELECT ${uuid}, 'seed', 0 FROM generate_series($1::int, $2::int) i`, [from, to]);
    });
    log(`seeded ${to} of ${workflows} ended workflows`);
  }
  await withClient(server, system, (client) => client.query('VACUUM ANALYZE operon.workflow_status, operon.operation_outputs'));
  await withClient(server, app, (client) => client.query('VACUUM ANALYZE operon.transaction_outputs, operon.workflow_owners'));
}

interface LoadFigures {
  readonly workflows: number;
  readonly seconds: number;
  readonly wfPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The longest time no workflow completed. */
  readonly longestGapMs: number;
}

/** Closed-loop W3 at `concurrency` until `done()` says so; latencies of every workflow. */
async function w3Load(runtime: OperonRuntime, concurrency: number, done: () => boolean): Promise<LoadFigures> {
  const latencies: number[] = [];
  let lastCompletion = performance.now();
  let longestGap = 0;
  const begin = performance.now();
  let input = 0;
  const loop = async () => {
    while (!done()) {
      const t0 = performance.now();
      const handle = await runtime.client.invoke(BenchOps).w3(input++);
      await handle.getResult();
      const t1 = performance.now();
      latencies.push(t1 - t0);
      longestGap = Math.max(longestGap, t1 - lastCompletion);
      lastCompletion = t1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - begin) / 1000;
  return {
    workflows: latencies.length,
    seconds: round(seconds, 1),
    wfPerSec: round(latencies.length / seconds, 1),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    maxMs: round(Math.max(...latencies), 2),
    longestGapMs: round(longestGap, 2),
  };
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const server = await startBenchServer(log);
  const system = 'retention_bench_sys';
  const app = 'retention_bench_app';
  try {
    await prepareDatabases(server, [system, app], app);
    const configOf = (retentionDays?: number) =>
      resolveConfig(
        {
          database: { hostname: server.host, port: server.port, username: server.user, password: server.password, user_database: app, system_database: system },
          telemetry: { logs: { logLevel: 'warn' } },
          ...(retentionDays === undefined ? {} : { management: { retentionDays } }),
        },
        { file: '', appDir: process.cwd() },
      );
    const logger = createLogger('warn');
    const plain = await OperonRuntime.create({ config: configOf(), classes: [BenchOps], logger });
    await plain.recover();
    await seed(server, system, app, options.workflows);
    log(`W3 at concurrency ${options.concurrency} for ${options.seconds} s, nothing else running`);
    const until = performance.now() + options.seconds * 1000;
    const alone = await w3Load(plain, options.concurrency, () => performance.now() >= until);
    await plain.destroy();

    const left = () =>
      withClient(server, system, async (client) => {
        const { rows } = await client.query(`SELECT 1 FROM operon.workflow_status WHERE workflow_uuid >= 'old-' AND workflow_uuid < 'old.' LIMIT 1`);
        return rows.length > 0;
      });
    log(`a runtime with management.retentionDays: 1 starts and sweeps; W3 runs beside it until the last old workflow is gone`);
    const sweeping = await OperonRuntime.create({ config: configOf(1), classes: [BenchOps], logger });
    const sweepStart = performance.now();
    await sweeping.recover();
    let swept = false;
    let sweepSeconds = 0;
    const watch = (async () => {
      while (await left()) await new Promise((resolve) => setTimeout(resolve, 250));
      sweepSeconds = (performance.now() - sweepStart) / 1000;
      swept = true;
    })();
    const beside = await w3Load(sweeping, options.concurrency, () => swept);
    await watch;
    await sweeping.destroy();
    const remaining = await withClient(server, app, async (client) => {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM operon.transaction_outputs WHERE workflow_uuid LIKE 'old-%'`);
      return Number(rows[0]!.n);
    });

    const row = (name: string, f: LoadFigures) =>
      `| ${name} | ${f.workflows} | ${f.wfPerSec} | ${f.p50Ms} | ${f.p99Ms} | ${f.maxMs} | ${f.longestGapMs} |`;
    const lines = [
      `### Retention: ${options.workflows.toLocaleString('en-US')} ended workflows deleted in ${round(sweepSeconds, 1)} s (${Math.round(options.workflows / sweepSeconds).toLocaleString('en-US')} workflows/s), W3 at concurrency ${options.concurrency} beside it`,
      '',
      '| W3 load | workflows | wf/s | p50 ms | p99 ms | worst ms | longest gap ms |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      row('alone', alone),
      row('beside the sweep', beside),
      `| ratio (beside ÷ alone) | | ${round(beside.wfPerSec / alone.wfPerSec, 2)} | ${round(beside.p50Ms / alone.p50Ms, 2)} | ${round(beside.p99Ms / alone.p99Ms, 2)} | ${round(beside.maxMs / alone.maxMs, 2)} | ${round(beside.longestGapMs / alone.longestGapMs, 2)} |`,
      '',
      `Transaction outputs of deleted workflows left in the app database: ${remaining}.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(`RETENTION-JSON ${JSON.stringify({ workflows: options.workflows, sweepSeconds: round(sweepSeconds, 2), alone, beside, remaining })}\n`);
  } finally {
    await server.stop();
  }
}

await main();
