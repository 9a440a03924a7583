/**
 * `pnpm bench:values-w3` runs end to end, at a size whose figures mean nothing (one pair, a handful
 * of workflows, c=1 only, on the suite's Postgres): both variants' workers start, each checks that
 * the runtime it loaded stores with the codec it was asked for (today's codec, or plain JSON in its
 * place), both run W3, and the output ends with a VALUES-W3-JSON line whose ratios
 * are those of its runs. It also catches the plain JSON stand-in (bench/src/plain-json-codec.ts)
 * falling out of step with the exports of the codec's module, which would fail the baseline's load.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const benchDir = join(root, 'bench');
const HANG_GUARD_MS = 90_000;
const benchInstalled = existsSync(join(benchDir, 'node_modules', 'pg', 'package.json'));
// A bundle of its own: bench-output.test.ts may be running the benchmark from bench/dist meanwhile.
const outdir = join(benchDir, `.values-w3-test-${process.pid}`);

interface Run {
  variant: string;
  concurrency: number;
  pair: number;
  wfPerSec: number;
  cpuUsPerWorkflow: number;
  loadBefore: number;
}

interface Comparison {
  concurrency: number;
  pairRatios: number[];
  medianRatio: number;
}

function databaseUrl(): string {
  const server = inject('postgres');
  // Behind a pooler, the workers' runtimes (which LISTEN) go to the server itself.
  const { host, port } = server.direct ?? server;
  return `postgres://${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}@${host}:${port}/postgres`;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(outdir, 'values-w3.js'), ...args], { cwd: benchDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // A guard against a hang, not a bound on speed. SIGINT lets the bench stop its workers.
    const stop = setTimeout(() => child.kill('SIGINT'), HANG_GUARD_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS + 10_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(stop);
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.runIf(benchInstalled)('pnpm bench:values-w3', () => {
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("runs W3 with today's codec and with plain JSON in its place, and reports each pair's ratio", async () => {
    const bundle = spawnSync(process.execPath, [join(benchDir, 'build.mjs'), '--outdir', outdir], { cwd: benchDir, encoding: 'utf8' });
    expect(bundle.status, `${bundle.stdout}${bundle.stderr}`).toBe(0);

    const { code, stdout, stderr } = await run(['--pairs', '1', '--warmup', '2', '--timed', '6', '--concurrencies', '1', '--database-url', databaseUrl()]);
    expect(code, stderr).toBe(0);
    const last = stdout.trimEnd().split('\n').at(-1)!;
    expect(last.startsWith('VALUES-W3-JSON '), stdout.slice(-2000)).toBe(true);
    const { runs, comparisons } = JSON.parse(last.slice('VALUES-W3-JSON '.length)) as { runs: Run[]; comparisons: Comparison[] };

    expect(runs.map((r) => `${r.concurrency} ${r.variant}`).sort()).toEqual(['1 codec', '1 json']);
    for (const r of runs) {
      expect(r.wfPerSec).toBeGreaterThan(0);
      expect(r.cpuUsPerWorkflow).toBeGreaterThan(0);
      expect(r.loadBefore).toBeGreaterThanOrEqual(0);
    }
    const rate = (variant: string) => runs.find((r) => r.variant === variant)!.wfPerSec;
    expect(comparisons).toHaveLength(1);
    expect(comparisons[0]!.pairRatios).toEqual([Math.round((rate('codec') / rate('json')) * 1000) / 1000]);
    expect(comparisons[0]!.medianRatio).toBe(comparisons[0]!.pairRatios[0]);
    expect(stdout).toContain('codec ÷ JSON, per pair');
  }, HANG_GUARD_MS + 20_000);
});
