/**
 * The CI version of the chaos harness: a short seeded run of `pnpm chaos` (the real command, as a
 * child process) that fails on any duplicate, loss, fuzz failure or 5xx outside a database outage.
 * Needs the packages built (`pnpm test` builds them first); `pnpm chaos` runs a longer one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { JSON_PREFIX, type ChaosJson } from './chaos-report.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** 40 s of load keeps the whole run (setup, recovery, fuzzing, checks) near two minutes. */
const ARGS = ['--no-build', '--duration', '40', '--seed', '1', '--clients', '8'];
const STOP_AFTER_MS = 165_000;

let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGTERM');
});

function runChaos(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    child = spawn(process.execPath, [join(REPO, 'test/chaos/run.mjs'), ...ARGS], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // SIGTERM lets the harness stop the app and its Postgres; SIGKILL if even that hangs.
    const stop = setTimeout(() => {
      child?.kill('SIGTERM');
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref();
    }, STOP_AFTER_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(stop);
      resolve({ code, output });
    });
  });
}

describe('pnpm chaos, short and seeded', () => {
  it('loses nothing, duplicates nothing, answers bad input with 4xx and no 5xx outside outages', async () => {
    for (const main of ['packages/cli/dist/main.js', 'packages/runtime/dist/index.js']) {
      if (!existsSync(join(REPO, main))) throw new Error(`${main} is missing: build the packages first with \`npx -y pnpm@10 run build\``);
    }
    const { code, output } = await runChaos();
    const lines = output.trimEnd().split('\n');
    const last = lines[lines.length - 1] ?? '';
    const tail = lines.slice(-60).join('\n');
    expect(last.startsWith(JSON_PREFIX), tail).toBe(true);
    const result = JSON.parse(last.slice(JSON_PREFIX.length)) as ChaosJson;
    expect(result.requests, tail).toBeGreaterThan(0);
    expect({
      completed: result.completed,
      duplicates: result.duplicates,
      lost: result.lost,
      fuzzFailures: result.fuzzFailures,
      http5xxOutsideOutage: result.http5xxOutsideOutage,
    }, tail).toEqual({ completed: result.requests, duplicates: 0, lost: 0, fuzzFailures: 0, http5xxOutsideOutage: 0 });
    for (const [kind, count] of Object.entries(result.faults)) expect(count, `faults of kind ${kind}`).toBeGreaterThan(0);
    expect(result.fuzzCases).toBeGreaterThan(200);
    expect(code, tail).toBe(0);
  }, 180_000);
});
