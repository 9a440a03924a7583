/**
 * The benchmark's output contract (issue: performance benchmark against DBOS Transact): the very
 * last line is `BENCH-JSON {...}` of one fixed shape, and the full results go to a JSON file.
 *
 * The real benchmark runs here, end to end, at its `--tiny` size (a handful of workflows per
 * phase, concurrency 1 only, its own embedded Postgres): both frameworks, built packages, worker
 * processes, SIGKILL recovery, statement counts. Its figures mean nothing at that size; only the
 * shape is checked. It needs the built packages (`pnpm run build`, which `pnpm test` runs through
 * `check`) and builds them if they are missing. Without `@dbos-inc/dbos-sdk` installed (the bench
 * package's dependency), the end-to-end part is skipped and only the shape checker is tested.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchJsonProblems, emptySummary, parseBenchJsonLine } from '../../bench/src/report.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const benchDir = join(root, 'bench');
const HANG_GUARD_MS = 240_000;
const dbosInstalled = existsSync(join(benchDir, 'node_modules', '@dbos-inc', 'dbos-sdk', 'package.json'));

function filledSummary(): ReturnType<typeof emptySummary> {
  const summary = emptySummary(true, [1, 16], 500);
  for (const framework of ['operon', 'dbos'] as const) {
    for (const workload of ['W0', 'W3', 'W3S'] as const) {
      for (const c of ['1', '16']) summary.throughput[framework][workload][c] = { wfPerSec: 100, p50Ms: 1, p99Ms: 2, rssMB: 70 };
    }
    summary.statements[framework] = { W0: 2, W3: 8 };
    summary.recovery[framework].seconds = 1.5;
    summary.coldStartMs[framework] = 300;
  }
  summary.ceiling = { '1': 2000, '16': 9000 };
  for (const n of ['1', '2', '4']) {
    summary.fleet.processes[n] = { wfPerSec: 200, p50Ms: 10, p99Ms: 30, statementsPerWorkflow: 8, heartbeatsPerSec: 0.5, vsOneProcess: 1 };
  }
  // A cost below 0 is noise, and allowed.
  for (const c of ['1', '16']) summary.fencing[c] = { fencedWfPerSec: 190, unfencedWfPerSec: 200, costPercent: c === '1' ? -0.5 : 5, usPerWorkflow: 260 };
  return summary;
}

describe('BENCH-JSON shape check', () => {
  it('accepts a complete summary and names every difference in a wrong one', () => {
    expect(benchJsonProblems(filledSummary())).toEqual([]);
    expect(benchJsonProblems(JSON.parse(JSON.stringify(filledSummary())))).toEqual([]);

    const missing = filledSummary() as unknown as { throughput: { dbos: Record<string, unknown> } };
    delete missing.throughput.dbos['W3S'];
    expect(benchJsonProblems(missing)).toContain('throughput.dbos: expected keys W0, W3, W3S, got W0, W3');

    const extra = { ...filledSummary(), note: 'x' };
    expect(benchJsonProblems(extra)[0]).toMatch(/^: expected keys/);

    const wrongLeaf = filledSummary() as unknown as { recovery: { operon: { seconds: unknown } } };
    wrongLeaf.recovery.operon.seconds = '1.5';
    expect(benchJsonProblems(wrongLeaf)).toEqual(['recovery.operon.seconds: expected a non-negative number, got "1.5"']);

    // A measurement that failed is null: not a valid summary.
    expect(benchJsonProblems(emptySummary(true, [1, 16], 500)).length).toBeGreaterThan(0);
    // Full mode must have the 64 column.
    expect(benchJsonProblems({ ...filledSummary(), quick: false })).toContain('ceiling: expected keys 1, 16, 64, got 1, 16');
  });

  it('reads the summary from the last line only', () => {
    const line = `BENCH-JSON ${JSON.stringify(filledSummary())}`;
    expect(parseBenchJsonLine(`| table |\n${line}\n`)).toEqual(filledSummary());
    expect(parseBenchJsonLine(`${line}\nsomething after`)).toBeUndefined();
  });
});

describe.runIf(dbosInstalled)('pnpm bench --tiny', () => {
  let outDir = '';
  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'operon-bench-test-'));
  });
  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  function ensureBuilt(): void {
    const built = ['sdk', 'runtime'].every((pkg) => existsSync(join(root, 'packages', pkg, 'dist', 'index.js')));
    if (!built) {
      const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'packages/sdk', 'packages/runtime'], { cwd: root, encoding: 'utf8' });
      if (tsc.status !== 0) throw new Error(`building the packages failed:\n${tsc.stdout}${tsc.stderr}`);
    }
    const bundle = spawnSync(process.execPath, [join(benchDir, 'build.mjs')], { cwd: benchDir, encoding: 'utf8' });
    if (bundle.status !== 0) throw new Error(`building the benchmark failed:\n${bundle.stdout}${bundle.stderr}`);
  }

  function runTinyBench(outputFile: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(benchDir, 'dist', 'main.js'), '--tiny', '--output', outputFile, '--database-prefix', `bench_test_${process.pid}`], {
        cwd: benchDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      // A guard against a hang, not a bound on speed: about 60 s on a quiet machine, 100 s at a load
      // average of 17 (about 25 worker processes start one after another). SIGINT lets the benchmark
      // stop its workers and its Postgres; SIGKILL if even that hangs.
      const stop = setTimeout(() => child.kill('SIGINT'), HANG_GUARD_MS);
      const kill = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS + 15_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(stop);
        clearTimeout(kill);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('ends its output with a BENCH-JSON line of the documented shape and writes the full results', async () => {
    ensureBuilt();
    const outputFile = join(outDir, 'latest.json');
    const { code, stdout, stderr } = await runTinyBench(outputFile);
    expect(code, stderr).toBe(0);
    const summary = parseBenchJsonLine(stdout);
    expect(summary, stdout.slice(-2000)).toBeDefined();
    expect(benchJsonProblems(summary, { concurrencies: [1], fenceConcurrencies: [1] })).toEqual([]);
    expect((summary as { quick: boolean }).quick).toBe(true);
    for (const heading of ['## Commit ceiling', '### W3', '## SQL statements per workflow', '## Many Operon processes on one Postgres', '### The cost of fencing', '## Recovery', '## Cold start']) {
      expect(stdout).toContain(heading);
    }
    const written = JSON.parse(readFileSync(outputFile, 'utf8')) as Record<string, unknown>;
    const { details, ...writtenSummary } = written;
    expect(writtenSummary).toEqual(summary);
    expect(details).toMatchObject({ failures: [] });
  }, HANG_GUARD_MS + 30_000);
});
