/**
 * `pnpm bench:versions [--versions N] [--functions F]`: what one more loaded version costs a
 * process. A runtime serving version 0 loads N other versions of the same app from the system
 * database, the way recovery and adoption do (each its own module instance and registry), then
 * unloads them all and loads the same N again (a version whose workflows come back after a lull).
 *
 * Two app sizes: the benchmark's own app (a few KB of bundle) and the same app with F generated
 * functions added (a large app's own code: packages stay external in a bundle). For each it prints
 * the time to load a version (goal: <= 200 ms), the RSS and heap one more version adds (goal:
 * <= 30 MB), and what unloading gives back; the peer is the process's own first import of the
 * same bundle, which every process pays once.
 *
 * Run with `node --expose-gc`: memory is read after a full collection.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { OperonRuntime, createLogger, resolveConfig, versionOf, type StoredBundle } from '@operon/runtime';
import { prepareDatabases, startBenchServer } from './bench-server.js';
import { percentile, round } from './stats.js';
import { parseIntegerFlags, progressLog } from './script-cli.js';

const log = progressLog('versions');
/** Makes this run's bundles new: their hash, the version, includes it. */
const runTag = performance.now();

interface Options {
  readonly versions: number;
  readonly functions: number;
}

function parse(argv: readonly string[]): Options {
  return parseIntegerFlags(argv, { versions: 10, functions: 2_000 }, 'usage: bench:versions [--versions N] [--functions F] (positive integers)');
}

const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;

function memory(): { rss: number; heap: number } {
  gc?.();
  gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss: rss / MB, heap: heapUsed / MB };
}

/** The benchmark's app, bundled as `operon build` bundles (packages external), with `functions` more functions of its own. */
async function appSource(dir: string, functions: number): Promise<string> {
  const app = join(import.meta.dirname, '..', 'src', 'operon-app.ts');
  const filler = Array.from(
    { length: functions },
    (_, i) => `export function rule${i}(order) { const total = order.items.reduce((sum, item) => sum + item.price * item.count, ${i}); return total > ${i * 7} ? { ok: true, total, rule: 'rule${i}', note: 'over ${i * 7}' } : { ok: false, total }; }`,
  ).join('\n');
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `export { BenchOps } from ${JSON.stringify(app)};\n${filler}\n`);
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    keepNames: true,
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0]!.text;
}

/** Version `n` of the app: the same code with a different last line, so a different hash. */
function versionOfApp(source: string, n: number): StoredBundle {
  const bundle = Buffer.from(`${source}\n// version ${n} ${runTag}\n`);
  return { version: versionOf(bundle), bundle, sourceMap: null };
}

interface SizeResult {
  readonly app: string;
  readonly bundleKB: number;
  readonly firstImportMs: number;
  readonly firstImportMB: number;
  readonly loadP50Ms: number;
  readonly loadMaxMs: number;
  readonly rssPerVersionMB: number;
  readonly heapPerVersionMB: number;
  readonly heapFreedByUnloadMB: number;
  readonly reloadP50Ms: number;
  readonly heapPerReloadMB: number;
}

async function measure(label: string, source: string, runtime: OperonRuntime, dir: string, options: Options, offset: number): Promise<SizeResult> {
  const versions = runtime.executor.deps.versions;
  const systemDb = runtime.executor.deps.systemDb;
  const stored = Array.from({ length: options.versions }, (_, i) => versionOfApp(source, offset + i + 1));
  for (const bundle of stored) await systemDb.storeVersion(bundle);

  // The peer: this process's own import of the same code, paid once by any process that serves it.
  const file = join(dir, `first-${offset}.mjs`);
  writeFileSync(file, `${source}\n// first ${offset}\n`);
  const beforeFirst = memory();
  const firstStart = performance.now();
  await import(pathToFileURL(file).href);
  const firstImportMs = performance.now() - firstStart;
  const firstImportMB = memory().rss - beforeFirst.rss;

  const loadOne = async (bundle: StoredBundle): Promise<number> => {
    const start = performance.now();
    await versions.acquire(bundle.version);
    return performance.now() - start;
  };
  const before = memory();
  const loads: number[] = [];
  for (const bundle of stored) loads.push(await loadOne(bundle));
  const loaded = memory();
  for (const bundle of stored) versions.release(bundle.version);
  const unloaded = memory();
  const reloads: number[] = [];
  for (const bundle of stored) reloads.push(await loadOne(bundle));
  for (const bundle of stored) versions.release(bundle.version);
  const cycled = memory();
  const n = options.versions;
  const result: SizeResult = {
    app: label,
    bundleKB: round(Buffer.byteLength(source) / 1024, 1),
    firstImportMs: round(firstImportMs, 1),
    firstImportMB: round(firstImportMB, 2),
    loadP50Ms: round(percentile(loads, 50), 1),
    loadMaxMs: round(Math.max(...loads), 1),
    rssPerVersionMB: round((loaded.rss - before.rss) / n, 2),
    heapPerVersionMB: round((loaded.heap - before.heap) / n, 2),
    heapFreedByUnloadMB: round(loaded.heap - unloaded.heap, 2),
    reloadP50Ms: round(percentile(reloads, 50), 1),
    heapPerReloadMB: round((cycled.heap - unloaded.heap) / n, 2),
  };
  log(`${label}: ${JSON.stringify(result)}`);
  return result;
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  if (!gc) log('warning: run with node --expose-gc for memory figures read after a full collection');
  const server = await startBenchServer(log);
  const system = 'versions_bench_sys';
  const app = 'versions_bench_app';
  // Inside the benchmark's folder, so a loaded bundle's packages resolve from its node_modules.
  const dir = mkdtempSync(join(import.meta.dirname, '..', '.versions-bench-'));
  try {
    await prepareDatabases(server, [system, app], app);
    const config = resolveConfig(
      {
        database: { hostname: server.host, port: server.port, username: server.user, password: server.password, user_database: app, system_database: system },
        telemetry: { logs: { logLevel: 'warn' } },
      },
      { file: '', appDir: dir },
    );
    const small = await appSource(dir, 0);
    const large = await appSource(dir, options.functions);
    // The process serves version 0 of the app; every other version is loaded beside it.
    const current = versionOfApp(small, 0);
    writeFileSync(join(dir, 'current.mjs'), current.bundle);
    const { BenchOps } = (await import(pathToFileURL(join(dir, 'current.mjs')).href)) as { BenchOps: object };
    const runtime = await OperonRuntime.create({ config, classes: [BenchOps], bundle: current, logger: createLogger('warn') });
    try {
      await runtime.recover();
      const results = [
        await measure('bench app', small, runtime, dir, options, 0),
        await measure(`bench app + ${options.functions} functions`, large, runtime, dir, options, 1_000),
      ];
      console.log(`\nOne more loaded version (${options.versions} versions loaded, unloaded, and loaded again; node ${process.version}${gc ? ', after full GCs' : ''})\n`);
      console.log('| app | bundle | load p50 / max | RSS per version | heap per version | heap freed by unload | reload p50 | heap per reload | first import of the same code (peer) |');
      console.log('|---|---|---|---|---|---|---|---|---|');
      for (const r of results) {
        console.log(
          `| ${r.app} | ${r.bundleKB} KB | ${r.loadP50Ms} / ${r.loadMaxMs} ms | ${r.rssPerVersionMB} MB | ${r.heapPerVersionMB} MB | ${r.heapFreedByUnloadMB} MB | ${r.reloadP50Ms} ms | ${r.heapPerReloadMB} MB | ${r.firstImportMs} ms, ${r.firstImportMB} MB RSS |`,
        );
      }
      const worst = results[results.length - 1]!;
      console.log(
        `\nGoals: load <= 200 ms (worst p50 ${worst.loadP50Ms} ms: ${round(worst.loadP50Ms / 200, 2)}x the goal), RSS <= 30 MB per version (${worst.rssPerVersionMB} MB: ${round(worst.rssPerVersionMB / 30, 3)}x the goal). Load time is ${round(worst.loadP50Ms / Math.max(worst.firstImportMs, 0.1), 2)}x the process's own first import of the same code.`,
      );
    } finally {
      await runtime.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
