/**
 * An adopter ran more than workerConcurrency of a queue after adopting a dead executor's queue
 * workflows: the claim took every PENDING row of the dead instance, whatever its queue, so an
 * executor already running its 8 of a queue of workerConcurrency 8 ran 16.
 *
 * Reproduction: executors A and B serve fleet-limited (concurrency 20, workerConcurrency 8). 16
 * gated workflows fill both (8 each, every one past its first step and waiting at the gate), 8
 * more wait behind them. A (its lease 3 s; B keeps 6 s, so that a loaded machine cannot lapse it)
 * is SIGKILLed. A sampler reads the running slots per owner every 5 ms.
 * Expected: B never holds more than 8; A's 8 go back to ENQUEUED (their place kept), B takes them
 * as its slots free once the gate opens, and each goes on from its records: its first step,
 * recorded before the kill, does not run again.
 */
import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import { connectTo } from '../helpers/test-databases.js';
import {
  allEnded,
  instanceOf,
  killAll,
  post,
  prepareFleetApp,
  registeredLease,
  shortLeaseConfig,
  sideEvents,
  startExecutor,
  statusCounts,
  sys,
  waitUntil,
  type FleetApp,
  type FleetProcess,
} from '../executors/fleet.js';

let app: FleetApp;
const executors: FleetProcess[] = [];
let sampler: pg.Client;
/** The lease of the executor killed; the adopter keeps the default. */
const KILLED_LEASE_MS = 3_000;

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('qadopt', {}, 'test/queues/app');
  sampler = await connectTo(app.systemDatabase);
});

afterAll(async () => {
  await sampler?.end();
  await killAll(executors);
  app?.remove();
});

async function enqueueGated(executor: FleetProcess, count: number): Promise<string[]> {
  const response = await post(executor, '/enqueue-gated', { queue: 'limited', count });
  if (response.status !== 200) throw new Error(`POST /enqueue-gated answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as string[];
}

const runningByOwner = async () =>
  new Map(
    (
      await sampler.query<{ owner: string; n: number }>(
        `SELECT owner, count(*)::int AS n FROM operon.workflow_status WHERE status = 'PENDING' AND queue_name = 'fleet-limited' GROUP BY 1`,
      )
    ).rows.map((r) => [r.owner, r.n]),
  );

describe('an adopter of queued workflows', () => {
  it('holds its workerConcurrency: what it has no slot for goes back to the queue', async () => {
    executors.push(...(await Promise.all([startExecutor(app, { configFile: shortLeaseConfig(app, KILLED_LEASE_MS) }), startExecutor(app)])));
    const [a, b] = executors as [FleetProcess, FleetProcess];
    const [instanceA, instanceB] = await Promise.all([instanceOf(app, a.pid), instanceOf(app, b.pid)]);
    expect(await registeredLease(app, instanceA)).toBe(KILLED_LEASE_MS);
    const first = await enqueueGated(a, 16);
    // Both full (8 each), every workflow past its first step and waiting at the gate.
    const atGate = () => new Set(sideEvents(app).filter((e) => (e.ev as string) === 'gate').map((e) => e.uuid));
    expect(await waitUntil(() => first.every((uuid) => atGate().has(uuid)), 30_000, 50)).toBe(true);
    expect(Object.fromEntries(await runningByOwner())).toEqual({ [instanceA]: 8, [instanceB]: 8 });
    const waiting = await enqueueGated(b, 8);
    const heldByA = (await sys<{ workflow_uuid: string }>(app, `SELECT workflow_uuid FROM operon.workflow_status WHERE status = 'PENDING' AND owner = $1`, [instanceA])).map(
      (r) => r.workflow_uuid,
    );

    let maxB = 0;
    let samples = 0;
    let sampling = true;
    const sampled = (async () => {
      while (sampling) {
        maxB = Math.max(maxB, (await runningByOwner()).get(instanceB) ?? 0);
        samples++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    a.signal('SIGKILL');
    await a.server.exited;
    // A's lease lapses (3 s), B adopts at a heartbeat: none of A's is PENDING and owned by A any more.
    expect(
      await waitUntil(async () => (await sys(app, `SELECT 1 FROM operon.workflow_status WHERE status = 'PENDING' AND owner = $1`, [instanceA])).length === 0, 20_000, 50),
    ).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(maxB, 'B ran more than workerConcurrency after adopting').toBeLessThanOrEqual(8);
    const afterAdoption = await sys<{ workflow_uuid: string; status: string; owner: string | null }>(
      app,
      'SELECT workflow_uuid, status, owner FROM operon.workflow_status WHERE workflow_uuid = ANY($1)',
      [heldByA],
    );
    expect(afterAdoption.map((r) => r.status)).toEqual(heldByA.map(() => 'ENQUEUED'));
    expect(b.output()).toMatch(/sent 8 adopted queue workflows back to their queues/);

    // Open the gate: B drains all 24, 8 at a time.
    writeFileSync(app.gate, '');
    const all = [...first, ...waiting];
    expect(await allEnded(app, all, 30_000)).toBe(true);
    sampling = false;
    await sampled;
    expect(await statusCounts(app, all)).toEqual({ SUCCESS: 24 });
    console.log(`${samples} samples; B ran at most ${maxB} of workerConcurrency 8`);
    expect(samples).toBeGreaterThan(100);
    expect(maxB).toBe(8);
    // Each of A's went on from its records: its first step ran once, before the kill.
    const starts = sideEvents(app).filter((e) => e.ev === 'start' && heldByA.includes(e.uuid));
    expect(starts.length).toBe(8);
    expect(starts.every((e) => e.pid === a.pid)).toBe(true);
  });
});
