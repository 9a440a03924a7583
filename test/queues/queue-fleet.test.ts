/**
 * Queues over four real `operon start` processes on one Postgres. A sampler reads the running
 * slots (PENDING rows of each queue) every 5 ms, and the side log tells what really ran when:
 * - an idle process wakes within milliseconds of another process's enqueue (NOTIFY), not at its
 *   1 s poll: the enqueuing process has no room, so another must take each one (prints p50/p99);
 * - 1,000 workflows (2,000 with OPERON_QUEUE_FLEET_FULL=1) on a queue of concurrency 20 /
 *   workerConcurrency 8, with as many on a queue of partitionConcurrency 1 over 500 keys (1,000)
 *   beside them: no sample and no moment of the side log exceeds a limit, and the limits are
 *   reached, also when a process fenced by a stalled heartbeat (the machine is shared) hands its
 *   workflows to an adopter;
 * - SIGKILL of the process holding the most slots of a queue: its slots stay held (the limit
 *   holds throughout), its workflows are adopted within 10 s of its last heartbeat and the
 *   backlog drains.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { assertCliBuilt } from '../cli/cli-process.js';
import { connectTo } from '../helpers/test-databases.js';
import {
  allEnded,
  killAll,
  lastHeartbeat,
  percentile,
  post,
  prepareFleetApp,
  sideEvents,
  startExecutor,
  statusCounts,
  sys,
  type FleetApp,
  type FleetProcess,
} from '../executors/fleet.js';

/**
 * Per process and queue. OPERON_QUEUE_FLEET_FULL=1 runs the full size (2,000 per queue over 1,000
 * keys); the suite runs half of it, which on this shared 2-core machine already saturates it.
 */
const FULL = process.env.OPERON_QUEUE_FLEET_FULL === '1';
const PER_PROCESS = FULL ? 500 : 250;
const KEYS = FULL ? 1_000 : 500;

let app: FleetApp;
const executors: FleetProcess[] = [];
let sampler: pg.Client;

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('qfleet', {}, 'test/queues/app');
  sampler = await connectTo(app.systemDatabase);
});

afterAll(async () => {
  await sampler?.end();
  await killAll(executors);
  app?.remove();
});

async function enqueue(executor: FleetProcess, queue: string, count: number, steps: number, ms: number, keys = 0): Promise<string[]> {
  const response = await post(executor, '/enqueue', { queue, count, steps, ms, keys });
  if (response.status !== 200) throw new Error(`POST /enqueue answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as string[];
}

interface Sample {
  readonly queue: string;
  readonly owner: string;
  readonly key: string | null;
  readonly n: number;
}

/** Samples the running slots of every queue every 5 ms until stopped; keeps the maxima. */
function sampleSlots() {
  const max = { total: new Map<string, number>(), perOwner: new Map<string, number>(), perKey: new Map<string, number>() };
  let samples = 0;
  let stop = false;
  const bump = (map: Map<string, number>, key: string, n: number) => map.set(key, Math.max(map.get(key) ?? 0, n));
  const done = (async () => {
    while (!stop) {
      const { rows } = await sampler.query<Sample>(
        `SELECT queue_name AS queue, owner, queue_partition_key AS key, count(*)::int AS n FROM operon.workflow_status
         WHERE status = 'PENDING' AND queue_name IS NOT NULL GROUP BY 1, 2, 3`,
      );
      samples++;
      const total = new Map<string, number>();
      const perOwner = new Map<string, number>();
      const perKey = new Map<string, number>();
      for (const r of rows) {
        total.set(r.queue, (total.get(r.queue) ?? 0) + r.n);
        perOwner.set(`${r.queue}/${r.owner}`, (perOwner.get(`${r.queue}/${r.owner}`) ?? 0) + r.n);
        if (r.key !== null) perKey.set(`${r.queue}/${r.key}`, (perKey.get(`${r.queue}/${r.key}`) ?? 0) + r.n);
      }
      for (const [k, n] of total) bump(max.total, k, n);
      for (const [k, n] of perOwner) bump(max.perOwner, k, n);
      for (const [k, n] of perKey) bump(max.perKey, k, n);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    max,
    get samples() {
      return samples;
    },
    async stop() {
      stop = true;
      await done;
    },
  };
}

const maxOf = (map: Map<string, number>, prefix: string) => Math.max(0, ...[...map].filter(([k]) => k.startsWith(prefix)).map(([, n]) => n));

/** The most workflows of `uuids` whose communicator ran at one moment, grouped by `group`. */
function maxOverlap(uuids: Set<string>, group: (e: { pid: number; key?: unknown }) => string): number {
  const events = sideEvents(app).filter((e) => uuids.has(e.uuid) && (e.ev === 'start' || e.ev === 'done')) as unknown as { ev: string; t: number; pid: number; key?: unknown }[];
  // At equal times an end comes first: a slot freed and taken in the same millisecond is no overlap.
  events.sort((a, b) => a.t - b.t || (a.ev === 'done' ? -1 : 1));
  const now = new Map<string, number>();
  let max = 0;
  for (const e of events) {
    const g = group(e);
    const n = (now.get(g) ?? 0) + (e.ev === 'start' ? 1 : -1);
    now.set(g, n);
    max = Math.max(max, n);
  }
  return max;
}

describe('queues over four processes', () => {
  it('wakes an idle process within milliseconds of another process\'s enqueue', async () => {
    // The first process alone takes the one long job: its only slot of the queue is then held.
    executors.push(await startExecutor(app));
    const [first] = executors as [FleetProcess];
    const [holder] = await enqueue(first, 'single', 1, 1, 120_000);
    expect(await waitForStatus(holder!, 'PENDING')).toBe(true);
    executors.push(...(await Promise.all([0, 1, 2].map(() => startExecutor(app)))));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const latencies: number[] = [];
    for (let i = 0; i < 40; i++) {
      const [uuid] = await enqueue(first, 'single', 1, 1, 1);
      expect(await waitForStatus(uuid!, 'SUCCESS')).toBe(true);
      const [row] = await sys(app, 'SELECT created_at, queue_started_at, owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
      latencies.push(Number(row.queue_started_at) - Number(row.created_at));
      // Idle again before the next: the poll would take up to a second.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(`enqueue → start in another process over 40 enqueues: p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms`);
    // Generous on a shared machine; a poll-only wake-up would be ~500 ms on average.
    expect(p50).toBeLessThan(100);
    expect(p99).toBeLessThan(400);
  });

  it(`holds concurrency 20 / workerConcurrency 8 over ${4 * PER_PROCESS} workflows, and partitionConcurrency 1 over ${KEYS} keys beside them`, async () => {
    const sampling = sampleSlots();
    const batches = await Promise.all(
      executors.flatMap((executor) => [enqueue(executor, 'limited', PER_PROCESS, 1, 10), enqueue(executor, 'partitioned', PER_PROCESS, 1, 10, KEYS)]),
    );
    const limited = new Set(batches.filter((_, i) => i % 2 === 0).flat());
    const partitioned = new Set(batches.filter((_, i) => i % 2 === 1).flat());
    expect(limited.size).toBe(4 * PER_PROCESS);
    expect(partitioned.size).toBe(4 * PER_PROCESS);
    const all = [...limited, ...partitioned];
    const ended = await allEnded(app, all, 120_000);
    await sampling.stop();
    expect(ended, JSON.stringify(await statusCounts(app, all))).toBe(true);
    expect(await statusCounts(app, all)).toEqual({ SUCCESS: 8 * PER_PROCESS });
    const { max } = sampling;
    const sampled = {
      limited: maxOf(max.total, 'fleet-limited'),
      limitedPerExecutor: maxOf(max.perOwner, 'fleet-limited/'),
      partitioned: maxOf(max.total, 'fleet-partitioned'),
      perKey: maxOf(max.perKey, 'fleet-partitioned/'),
    };
    const ran = {
      limited: maxOverlap(limited, () => 'all'),
      limitedPerProcess: maxOverlap(limited, (e) => String(e.pid)),
      perKey: maxOverlap(partitioned, (e) => String(e.key)),
    };
    console.log(`${sampling.samples} samples; sampled maxima ${JSON.stringify(sampled)}; ran at once ${JSON.stringify(ran)}`);
    expect(sampling.samples).toBeGreaterThan(100);
    // A process whose heartbeat stalled past its lease on this shared machine loses its workflows to
    // an adopter, which takes only what it has worker slots for: the per-executor sample holds
    // whatever happened. The side log per process does not then: the fenced process's communicator
    // in flight finishes while its new instance takes new work.
    const fenced = executors.map((e) => e.output()).join('\n').split('\n').filter((line) => /was fenced|adopted [1-9]|sent \d+ adopted/.test(line));
    if (fenced.length > 0) console.log(`adoption during the run (per-process side log not checked):\n${fenced.join('\n')}`);
    expect(sampled.limited).toBeLessThanOrEqual(20);
    expect(sampled.limitedPerExecutor).toBeLessThanOrEqual(8);
    if (fenced.length === 0) expect(ran.limitedPerProcess).toBeLessThanOrEqual(8);
    expect(sampled.partitioned).toBeLessThanOrEqual(60);
    expect(sampled.perKey).toBe(1);
    expect(ran.limited).toBeLessThanOrEqual(20);
    expect(ran.perKey).toBe(1);
    // The limits were reached, so the test could have seen them exceeded.
    expect(sampled.limited).toBe(20);
    expect(Math.max(ran.limitedPerProcess, sampled.limitedPerExecutor)).toBeGreaterThanOrEqual(8);
  });

  it('keeps the slots of a SIGKILLed process held until its workflows are adopted, and drains the backlog', async () => {
    const sampling = sampleSlots();
    const live = executors.slice(1);
    const batches = await Promise.all(live.map((executor) => enqueue(executor, 'slow', 20, 3, 500)));
    const all = batches.flat();
    // Wait until every slot is taken, then kill the process holding the most.
    await waitFor(async () => (await sys(app, `SELECT count(*)::int AS n FROM operon.workflow_status WHERE queue_name = 'fleet-slow' AND status = 'PENDING'`))[0].n === 10, 20_000);
    const holders = await sys<{ owner: string; n: number }>(
      app,
      `SELECT owner, count(*)::int AS n FROM operon.workflow_status WHERE queue_name = 'fleet-slow' AND status = 'PENDING' GROUP BY 1 ORDER BY 2 DESC`,
    );
    const victimInstance = holders[0]!.owner;
    const [{ pid }] = await sys<{ pid: number }>(app, 'SELECT pid FROM operon.executors WHERE instance_id = $1', [victimInstance]);
    const victim = executors.find((executor) => executor.pid === pid)!;
    const held = await sys<{ workflow_uuid: string }>(app, `SELECT workflow_uuid FROM operon.workflow_status WHERE queue_name = 'fleet-slow' AND status = 'PENDING' AND owner = $1`, [victimInstance]);
    expect(held.length).toBeGreaterThan(0);
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    await victim.server.exited;
    const lastBeat = await lastHeartbeat(app, victimInstance);

    const ended = await allEnded(app, all, 90_000);
    await sampling.stop();
    expect(ended, JSON.stringify(await statusCounts(app, all))).toBe(true);
    expect(await statusCounts(app, all)).toEqual({ SUCCESS: 60 });
    expect(maxOf(sampling.max.total, 'fleet-slow')).toBeLessThanOrEqual(10);
    // Every workflow the dead process held went on elsewhere, within 10 s of its last heartbeat.
    const heldSet = new Set(held.map((r) => r.workflow_uuid));
    const resumed = new Map<string, number>();
    for (const e of sideEvents(app)) {
      if (heldSet.has(e.uuid) && e.ev === 'start' && e.t > killedAt && e.pid !== victim.pid && !resumed.has(e.uuid)) resumed.set(e.uuid, e.t);
    }
    expect(resumed.size).toBe(heldSet.size);
    const worst = Math.max(...[...resumed.values()].map((t) => t - lastBeat));
    console.log(`SIGKILL with ${heldSet.size} of 10 slots held: adopted and resumed at most ${worst} ms after its last heartbeat`);
    expect(worst).toBeLessThan(10_000 + 1_000);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > giveUp) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function waitForStatus(uuid: string, status: string): Promise<boolean> {
  return waitFor(async () => (await sys(app, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status === status, 20_000);
}
