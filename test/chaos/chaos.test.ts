/**
 * The CI version of the chaos harness: a short seeded run of `pnpm chaos` (the real command, as a
 * child process: three `operon start` runtimes on one Postgres, killed, paused and restarted
 * beside the database's faults) that fails on any duplicate, loss, fuzz failure, 5xx outside a
 * database outage, problem found by the saga, fan-out, values and identity workloads, or
 * workflows a dead runtime left that were never adopted. Needs the packages built
 * (`pnpm test` builds them first); `pnpm chaos --duration N` runs a longer one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { JSON_PREFIX, WORKLOAD_NAMES, type ChaosJson } from './chaos-report.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** 20 s of load keeps the whole run (setup, recovery, the held round, fuzzing, checks) under 100 s on two cores. */
const ARGS = ['--no-build', '--duration', '20', '--seed', '1', '--clients', '8'];
const STOP_AFTER_MS = 150_000;

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
  it('loses nothing, duplicates nothing, keeps every workload invariant, answers bad input with 4xx and no 5xx outside outages', async () => {
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
    const workloadFailures = Object.fromEntries(WORKLOAD_NAMES.map((name) => [`${name}Failures`, result.workloads[name]?.failures]));
    expect({
      completed: result.completed,
      duplicates: result.duplicates,
      lost: result.lost,
      fuzzFailures: result.fuzzFailures,
      http5xxOutsideOutage: result.http5xxOutsideOutage,
      ...workloadFailures,
    }, tail).toEqual({
      completed: result.requests,
      duplicates: 0,
      lost: 0,
      fuzzFailures: 0,
      http5xxOutsideOutage: 0,
      ...Object.fromEntries(WORKLOAD_NAMES.map((name) => [`${name}Failures`, 0])),
    });
    for (const [kind, count] of Object.entries(result.faults)) expect(count, `faults of kind ${kind}`).toBeGreaterThan(0);
    for (const name of WORKLOAD_NAMES) expect(result.workloads[name]?.runs, `runs of the ${name} workload`).toBeGreaterThan(0);
    expect(result.runtimes).toBe(3);
    // The held round alone kills every runtime under parked workflows: there is always something to adopt.
    expect(result.adoption.events, tail).toBeGreaterThan(0);
    // A runtime woken after its lease lapsed always finds out (its own line), whatever it was running.
    expect(result.fenced.executors, tail).toBeGreaterThan(0);
    expect(result.fuzzCases).toBeGreaterThan(200);
    expect(code, tail).toBe(0);
  }, 170_000);
});
