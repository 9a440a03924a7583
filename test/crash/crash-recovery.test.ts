/**
 * SIGKILL at every boundary of a five-operation workflow (before, during and after each
 * operation) and on a seeded random schedule; after restarts, every workflow must have the output
 * of an uninterrupted run, every transaction's row exactly once, and no completed communicator
 * may have run again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture, spawnApp } from '../helpers/child-app.js';
import { query, testConfigInput } from '../helpers/test-databases.js';

const SEED = Number(process.env.OPERON_CRASH_SEED ?? 20261125);

/** A small seeded generator (mulberry32), so a failing schedule can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const expectedOutput = (n: number) => `${n}:${[n * 10, n * 100 + 1, n * 10 + 2, n * 100 + 3, n * 10 + 4].join(',')}`;

let bundle: string;
let dir: string;
let sideLog: string;
// The schedule kills the process many times while recovered workflows are mid-operation: each of
// those kills counts against them. The recovery limit is not what this file tests (the poisoned-
// workflow regression tests do): it is set out of reach.
const input = testConfigInput('crash', { runtimeConfig: { maxRecoveryAttempts: 1000 } });
const killPoints = { boundary: 0, random: 0 };

function child(run: number, env: Record<string, string>) {
  return spawnApp(bundle, { CRASH_CONFIG: JSON.stringify(input), CRASH_RUN: String(run), CRASH_SIDE_LOG: sideLog, ...env });
}

beforeAll(async () => {
  bundle = await bundleFixture('crash-app.ts');
  dir = mkdtempSync(join(tmpdir(), 'operon-crash-'));
  sideLog = join(dir, 'side-effects.log');
  writeFileSync(sideLog, '');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(bundle, { force: true });
});

async function verify(uuids: string[]): Promise<void> {
  const sys = input.database.system_database;
  const app = input.database.user_database;
  const statuses = await query(sys, 'SELECT workflow_uuid, status, output FROM operon.workflow_status WHERE workflow_uuid = ANY($1)', [uuids]);
  expect(statuses).toHaveLength(uuids.length);
  for (const row of statuses) {
    const n = Number(row.workflow_uuid.split('-').pop());
    expect({ uuid: row.workflow_uuid, status: row.status, output: JSON.parse(row.output) }).toEqual({
      uuid: row.workflow_uuid,
      status: 'SUCCESS',
      output: expectedOutput(n),
    });
  }
  const rows = await query(app, 'SELECT uuid, step, count(*)::int AS n FROM crash_rows WHERE uuid = ANY($1) GROUP BY 1, 2', [uuids]);
  expect(rows).toHaveLength(uuids.length * 3);
  expect(rows.filter((r) => r.n !== 1)).toEqual([]);
  const recorded = await query(
    sys,
    'SELECT workflow_uuid, function_id, output FROM operon.operation_outputs WHERE workflow_uuid = ANY($1) AND function_id IN (1, 3)',
    [uuids],
  );
  expect(recorded).toHaveLength(uuids.length * 2);
  const lines = readFileSync(sideLog, 'utf8').trim().split('\n').map((l) => l.split(' '));
  for (const r of recorded) {
    const recordedRun = JSON.parse(r.output).run as number;
    const runs = lines.filter(([u, step]) => u === r.workflow_uuid && Number(step) === r.function_id).map(([, , run]) => Number(run));
    // The recorded result came from a real execution, and nothing ran after the one recorded.
    expect(runs).toContain(recordedRun);
    expect(runs.filter((run) => run > recordedRun)).toEqual([]);
  }
}

describe('crash recovery with SIGKILL', () => {
  it('recovers from a kill at every boundary of a five-operation workflow', async () => {
    const points = [0, 1, 2, 3, 4].flatMap((op) => (['before', 'during', 'after'] as const).map((when) => `${when}:${op}`));
    const uuids: string[] = [];
    for (let i = 0; i < points.length; i += 3) {
      await Promise.all(
        points.slice(i, i + 3).map(async (point, j) => {
          const uuid = `boundary-${point.replace(':', '')}-${i + j}`;
          uuids.push(uuid);
          // Its own executor id: a sibling's restart must not recover (and re-kill) this workflow.
          const killed = child(1, { CRASH_START: uuid, CRASH_KILL_AT: point, OPERON_EXECUTOR_ID: uuid });
          expect(await killed.exited, killed.output()).toBe('SIGKILL');
          killPoints.boundary++;
          const restarted = child(2, { CRASH_AWAIT: uuid, OPERON_EXECUTOR_ID: uuid });
          await restarted.waitForLine(/^DONE/);
          expect(await restarted.exited).toBe(0);
        }),
      );
    }
    await verify(uuids);
    // Thirty processes started one after another (three at a time): a loaded machine needs longer.
  }, 180_000);

  it(`recovers from kills on a seeded random schedule (seed ${SEED})`, async () => {
    const random = seeded(SEED);
    const uuids: string[] = [];
    // Each round starts new workflows while the restarted process recovers the earlier ones.
    for (let round = 1; round <= 8; round++) {
      const fresh = Array.from({ length: 6 }, (_, i) => `random-${round * 100 + i}`);
      uuids.push(...fresh);
      const app = child(10 + round, { CRASH_START: fresh.join(','), CRASH_DELAY_MS: String(20 + Math.floor(random() * 60)) });
      await app.waitForLine(/^READY/);
      await new Promise((resolve) => setTimeout(resolve, random() * 350));
      const ended = await app.kill('SIGKILL');
      if (ended === 'SIGKILL') killPoints.random++;
    }
    // Starting is idempotent: this starts any workflow whose start a kill cut off, and joins the rest.
    const last = child(30, { CRASH_START: uuids.join(',') });
    await last.waitForLine(/^DONE/, 60_000);
    expect(await last.exited).toBe(0);
    await verify(uuids);
    console.log(
      `crash test: ${killPoints.boundary + killPoints.random} kill points exercised ` +
        `(${killPoints.boundary} boundaries, ${killPoints.random} random, seed ${SEED})`,
    );
  });
});
