/**
 * `pnpm bench:values-w3 [--pairs N] [--warmup N] [--timed N] [--concurrencies 1,16] [--database-url URL] [--cpu-prof DIR]`: W3 of
 * `pnpm bench` with today's runtime beside W3 with the stored-value codec replaced by plain JSON
 * (plain-json-codec.js, put in the codec's place by values-w3-worker.js), in one script on one
 * Postgres. At concurrency 1 and 16, N pairs (3 by default) of one run of each, taking turns which
 * goes first; each run is a fresh worker process (300 warm-up, 3,000 timed workflows by default,
 * as `pnpm bench`). Per run: wf/s, p50, p99, the worker's CPU time per workflow, the load average
 * at its start and end. Per concurrency: each variant's median, the ratio codec ÷ plain JSON of
 * each pair, and their median and spread (least to most).
 *
 * `--cpu-prof DIR` runs every worker under `node --cpu-prof` (a profile per run in DIR) and adds,
 * per run, the time with the swapped module on the stack: the codec's value-codec.js, or the plain
 * JSON stand-in, each with all it calls (JSON.stringify and JSON.parse included), per workflow.
 *
 * Progress goes to stderr; the table and, last, `VALUES-W3-JSON {...}` to stdout.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { externalServer, dropDatabases, prepareDatabases, startBenchServer, type BenchServer } from './bench-server.js';
import type { DatabaseTarget, Job, ThroughputResult } from './protocol.js';
import { timeInModule } from './cpu-profile.js';
import { parseIntegerFlags, progressLog } from './script-cli.js';
import { median, round } from './stats.js';
import type { CodecVariant } from './values-w3-worker.js';
import { killAllWorkers, stopOnExit, WorkerProcess } from './worker-process.js';

const log = progressLog('values-w3');

const VARIANTS: readonly CodecVariant[] = ['codec', 'json'];
const LABEL: Record<CodecVariant, string> = { codec: "today's codec", json: 'plain JSON' };
const WORKER_DEADLINE_MS = 10 * 60_000;
const USAGE = 'usage: pnpm bench:values-w3 [--pairs N] [--warmup N] [--timed N] [--concurrencies 1,16] [--database-url URL] [--cpu-prof DIR]';
/** The module each variant's profile is searched for: what the baseline swaps. */
const SWAPPED_MODULE: Record<CodecVariant, string> = { codec: '/executor/value-codec.js', json: '/plain-json-codec.js' };

interface Run extends ThroughputResult {
  readonly variant: CodecVariant;
  readonly concurrency: number;
  readonly pair: number;
  readonly cpuUsPerWorkflow: number;
  /** One-minute load average when the run's worker was spawned and when it reported. */
  readonly loadBefore: number;
  readonly loadAfter: number;
  /** With --cpu-prof: the swapped module's sampled time per workflow (warm-up included), and its share of the busy samples. */
  readonly profile?: { readonly file: string; readonly moduleUsPerWorkflow: number; readonly moduleShare: number };
}

interface Comparison {
  readonly concurrency: number;
  readonly codecWfPerSec: number;
  readonly jsonWfPerSec: number;
  /** codec ÷ plain JSON of each pair, in pair order. */
  readonly pairRatios: number[];
  readonly medianRatio: number;
  readonly leastRatio: number;
  readonly mostRatio: number;
  readonly codecCpuUsPerWorkflow: number;
  readonly jsonCpuUsPerWorkflow: number;
}

interface Options {
  readonly pairs: number;
  readonly warmup: number;
  readonly timed: number;
  /** 1 and 16 unless told (the test runs one). */
  readonly concurrencies: readonly number[];
  readonly databaseUrl: string | undefined;
  readonly cpuProfDir: string | undefined;
}

function parse(argv: readonly string[]): Options {
  const rest = [...argv];
  const text = (flag: string): string | undefined => {
    const at = rest.indexOf(flag);
    if (at < 0) return undefined;
    const value = rest[at + 1];
    if (!value) throw new Error(`${USAGE}; ${flag} needs a value`);
    rest.splice(at, 2);
    return value;
  };
  const databaseUrl = text('--database-url');
  const cpuProf = text('--cpu-prof');
  const concurrencies = (text('--concurrencies') ?? '1,16').split(',').map(Number);
  if (!concurrencies.every((c) => Number.isInteger(c) && c > 0)) throw new Error(`${USAGE}; --concurrencies takes positive integers`);
  return { ...parseIntegerFlags(rest, { pairs: 3, warmup: 300, timed: 3000 }, USAGE), concurrencies, databaseUrl, cpuProfDir: cpuProf && resolve(cpuProf) };
}

const load = (): number => round(loadavg()[0]!, 2);

async function runOnce(
  server: BenchServer,
  databases: { app: string; system: Record<CodecVariant, string> },
  variant: CodecVariant,
  concurrency: number,
  pair: number,
  options: Options,
): Promise<Run> {
  const target: DatabaseTarget = {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    appDatabase: databases.app,
    systemDatabase: databases.system[variant],
    poolSize: 20,
  };
  const { warmup, timed, cpuProfDir } = options;
  const job: Job = { kind: 'throughput', workload: 'W3', concurrency, warmup, timed };
  const profileDir = cpuProfDir && join(cpuProfDir, `pair${pair}-c${concurrency}-${variant}`);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const execArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined;
  const loadBefore = load();
  const worker = new WorkerProcess('operon', job, target, WORKER_DEADLINE_MS, { script: 'values-w3-worker.js', env: { BENCH_VALUE_CODEC: variant }, execArgv });
  const done = await worker.expect('done', WORKER_DEADLINE_MS);
  const loadAfter = load();
  await worker.finish();
  if (!done.throughput) throw new Error('the worker reported no throughput');
  const cpuUsPerWorkflow = round((done.throughput.cpuMs * 1000) / done.throughput.workflows, 1);
  const run: Run = { ...done.throughput, variant, concurrency, pair, cpuUsPerWorkflow, loadBefore, loadAfter };
  if (!profileDir) return run;
  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the ${variant} worker wrote no CPU profile in ${profileDir}`);
  const { busyMs, inModuleMs } = timeInModule(join(profileDir, file), SWAPPED_MODULE[variant]);
  const profile = { file: join(profileDir, file), moduleUsPerWorkflow: round((inModuleMs * 1000) / (warmup + timed), 2), moduleShare: round(inModuleMs / busyMs, 4) };
  return { ...run, profile };
}

function compare(runs: readonly Run[], concurrency: number, pairs: number): Comparison {
  const of = (variant: CodecVariant) => runs.filter((r) => r.variant === variant && r.concurrency === concurrency);
  const pairRatios: number[] = [];
  for (let pair = 1; pair <= pairs; pair++) {
    const codec = of('codec').find((r) => r.pair === pair)!;
    const json = of('json').find((r) => r.pair === pair)!;
    pairRatios.push(round(codec.wfPerSec / json.wfPerSec, 3));
  }
  return {
    concurrency,
    codecWfPerSec: round(median(of('codec').map((r) => r.wfPerSec)), 1),
    jsonWfPerSec: round(median(of('json').map((r) => r.wfPerSec)), 1),
    pairRatios,
    medianRatio: round(median(pairRatios), 3),
    leastRatio: Math.min(...pairRatios),
    mostRatio: Math.max(...pairRatios),
    codecCpuUsPerWorkflow: round(median(of('codec').map((r) => r.cpuUsPerWorkflow)), 1),
    jsonCpuUsPerWorkflow: round(median(of('json').map((r) => r.cpuUsPerWorkflow)), 1),
  };
}

function printTables(runs: readonly Run[], comparisons: readonly Comparison[]): void {
  const profiled = runs.some((r) => r.profile);
  const lines = [
    `| pair | c | variant | wf/s | p50 ms | p99 ms | CPU us/wf | load at start → end |${profiled ? ' in the swapped module, us/wf |' : ''}`,
    `| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |${profiled ? ' ---: |' : ''}`,
    ...runs.map(
      (r) =>
        `| ${r.pair} | ${r.concurrency} | ${LABEL[r.variant]} | ${r.wfPerSec} | ${r.p50Ms} | ${r.p99Ms} | ${r.cpuUsPerWorkflow} | ${r.loadBefore} → ${r.loadAfter} |` +
        (profiled ? ` ${r.profile?.moduleUsPerWorkflow ?? 'n/a'} |` : ''),
    ),
    '',
    "| c | today's codec wf/s (median) | plain JSON wf/s (median) | codec ÷ JSON, per pair | median (least–most) | CPU us/wf, codec / JSON |",
    '| ---: | ---: | ---: | --- | --- | --- |',
    ...comparisons.map(
      (c) =>
        `| ${c.concurrency} | ${c.codecWfPerSec} | ${c.jsonWfPerSec} | ${c.pairRatios.join(', ')} | ${c.medianRatio} (${c.leastRatio}–${c.mostRatio}) | ${c.codecCpuUsPerWorkflow} / ${c.jsonCpuUsPerWorkflow} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  const options = parse(process.argv.slice(2));
  log(`W3, today's codec against plain JSON: ${options.pairs} pairs at c=${options.concurrencies.join(' and c=')}, ${options.warmup} warm-up + ${options.timed} timed workflows a run`);
  const server = options.databaseUrl ? externalServer(options.databaseUrl) : await startBenchServer(log);
  const stop = stopOnExit(server, log);
  const prefix = `values_w3_${process.pid}`;
  const databases = { app: `${prefix}_app`, system: { codec: `${prefix}_codec_sys`, json: `${prefix}_json_sys` } };
  const all = [databases.app, databases.system.codec, databases.system.json];
  const runs: Run[] = [];
  try {
    await prepareDatabases(server, all, databases.app);
    for (let pair = 1; pair <= options.pairs; pair++) {
      for (const [index, concurrency] of options.concurrencies.entries()) {
        // At each concurrency the variants take turns going first, pair by pair (so drift on a shared
        // machine, and what the run before left Postgres doing, hit both alike); within a pair, the
        // concurrencies start with different variants.
        const order = (pair + index) % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
        for (const variant of order) {
          const run = await runOnce(server, databases, variant, concurrency, pair, options);
          runs.push(run);
          const inModule = run.profile ? `  in ${SWAPPED_MODULE[variant]} ${run.profile.moduleUsPerWorkflow} us/wf (${round(run.profile.moduleShare * 100, 2)}% of busy samples)` : '';
          log(
            `pair ${pair}/${options.pairs} c=${String(concurrency).padEnd(2)} ${LABEL[variant].padEnd(13)} ${run.wfPerSec} wf/s  p50 ${run.p50Ms} ms  p99 ${run.p99Ms} ms  ` +
              `CPU ${run.cpuUsPerWorkflow} us/wf  load ${run.loadBefore} → ${run.loadAfter}${inModule}`,
          );
        }
      }
    }
    if (server.kind === 'external') await dropDatabases(server, all);
  } finally {
    await stop();
  }
  const comparisons = options.concurrencies.map((c) => compare(runs, c, options.pairs));
  for (const c of comparisons) {
    log(`c=${c.concurrency}: codec ÷ plain JSON ${c.medianRatio} (pairs ${c.pairRatios.join(', ')}); CPU ${c.codecCpuUsPerWorkflow} against ${c.jsonCpuUsPerWorkflow} us a workflow`);
  }
  printTables(runs, comparisons);
  process.stdout.write(`VALUES-W3-JSON ${JSON.stringify({ options: { ...options, databaseUrl: options.databaseUrl ? '(given)' : undefined }, comparisons, runs })}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    killAllWorkers();
    process.stderr.write(`bench:values-w3 failed: ${error.message}\n`);
    process.exitCode = 1;
  },
);
