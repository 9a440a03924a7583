/**
 * A heartbeat whose answer arrives late confirms a lease that already lapsed.
 *
 * The database dates a heartbeat when it runs (`heartbeat_at = now()`), and judges the lease
 * from then: it lapses LEASE_MS (6 s) later and another executor may adopt. The process dates
 * its local lease from when it *reads the answer* (executor-lease.ts, beat():
 * `this.confirmedAt = performance.now()` after `await heartbeat(...)`), and trusts it for 4 s
 * more. When the answer is held up (a process paused with a heartbeat in flight — on SIGCONT
 * it reads the old "alive" — a GC pause, a stalled network), the local lease runs seconds past
 * the database's: steps that see `holds()` true, or that joined the beat in flight through
 * `confirm()`, start communicators of workflows another executor already runs. Their records are
 * fenced afterwards; their side effects happen twice. A lease dated from when the heartbeat was
 * sent (the earliest moment the database can have dated it) has no such window.
 *
 * Reproductions, both exact (no timing luck):
 *  1. the lease over a system database whose heartbeat runs at once and answers 4.5 s later. 2 s
 *     after the answer the database's lease has lapsed (6.5 s after the heartbeat ran);
 *     `holds()` must say so;
 *  2. real processes: one `operon start` reaches Postgres through a proxy that holds the answers
 *     of the one connection that carries its heartbeat (the heartbeat runs at the server, its
 *     answer waits; other statements pass). Its lease is 3 s (the two others keep 6 s, so that a
 *     loaded machine cannot lapse them). Its steps wait on that beat once their local lease runs
 *     out. The heartbeat gives up on the held answer (after five sixths of the lease less one
 *     interval) and connects again; the network stays stalled for it (a later heartbeat
 *     connection's statements are held before they reach the server), so its lease lapses and the two other executors adopt its 5
 *     workflows; everything held is released one and a half leases after the first answer was (or
 *     once they adopted, if later). Expected: the process starts no communicator after the release
 *     (every step of every workflow starts once).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import {
  allEnded,
  configVariant,
  instanceOf,
  killAll,
  prepareFleetApp,
  registeredLease,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetApp,
  type FleetProcess,
} from '../executors/fleet.js';
import { ExecutorLease, LEASE_MS } from '../../packages/runtime/src/executor/executor-lease.js';
import { DatabaseClock } from '../../packages/runtime/src/executor/database-clock.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import type { SystemDatabase } from '../../packages/runtime/src/system-db/system-database.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lease of the process whose heartbeat answers are held; the others keep the default. */
const HELD_LEASE_MS = 3_000;
/** Its workflows' steps: they outlast the release, so some wait on the held beat when it comes. */
const STEPS = 8;
const STEP_MS = 700;

describe('a heartbeat answered 4.5 s after it ran', () => {
  it('does not make the lease last past the database\'s', async () => {
    let ranAt = 0;
    const systemDb = {
      registerExecutor: async () => ({}),
      setExecutorState: async () => undefined,
      liveInstancesOnHost: async () => [],
      heartbeat: async () => {
        ranAt = performance.now();
        await pause(4_500);
        return { alive: true, toAdopt: [], databaseNowMs: Date.now() };
      },
    } as unknown as SystemDatabase;
    const lease = new ExecutorLease(systemDb, createLogger('silent'), undefined, 'operon-late-answer', new DatabaseClock(), { adopt: () => undefined, fenced: () => undefined });
    await lease.register();
    // A step whose local lease ran out asks the database; the answer comes 4.5 s after the heartbeat ran.
    await pause(LEASE_MS - 1_000);
    expect(lease.holds(lease.instanceId)).toBe(false);
    expect(await lease.confirm(lease.instanceId)).toBe('held');
    await pause(2_000);
    const sinceHeartbeatRan = performance.now() - ranAt;
    console.log(`[regression] ${Math.round(sinceHeartbeatRan)} ms after the heartbeat ran (the database's lease lapsed at ${LEASE_MS} ms): holds() = ${lease.holds(lease.instanceId)}`);
    expect(sinceHeartbeatRan).toBeGreaterThan(LEASE_MS);
    expect(lease.holds(lease.instanceId), 'local lease after the database\'s lapsed').toBe(false);
  }, 20_000);
});

/**
 * A TCP proxy to the test Postgres that, once armed, holds the server's answers on the first
 * connection whose client sends the heartbeat statement (named `operon_heartbeat`), and from then
 * on what any other connection sends once it sends that statement (the heartbeat connecting
 * again), until released.
 */
class HeartbeatAnswerHolder {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; holding: boolean; held: Buffer[]; stalled: boolean; unsent: Buffer[] }>();
  private armed = false;
  private stalling = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const pair = { client, upstream, holding: false, held: [] as Buffer[], stalled: false, unsent: [] as Buffer[] };
      this.pairs.add(pair);
      client.on('data', (chunk: Buffer) => {
        if (this.armed && chunk.includes('operon_heartbeat')) {
          this.armed = false;
          this.stalling = true;
          pair.holding = true;
        } else if (this.stalling && !pair.holding && chunk.includes('operon_heartbeat')) {
          pair.stalled = true;
        }
        if (pair.stalled) pair.unsent.push(chunk);
        else upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => (pair.holding ? pair.held.push(chunk) : client.write(chunk)));
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as { port: number }).port)));
  }

  arm(): void {
    this.armed = true;
  }

  get holding(): boolean {
    return [...this.pairs].some((pair) => pair.holding);
  }

  release(): void {
    this.armed = false;
    this.stalling = false;
    for (const pair of this.pairs) {
      pair.stalled = false;
      for (const chunk of pair.unsent.splice(0)) pair.upstream.write(chunk);
      pair.holding = false;
      for (const chunk of pair.held.splice(0)) pair.client.write(chunk);
    }
  }

  close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('real processes: a heartbeat answer held past the lease', () => {
  let app: FleetApp | undefined;
  let holder: HeartbeatAnswerHolder | undefined;
  const executors: FleetProcess[] = [];
  afterAll(async () => {
    holder?.release();
    await killAll(executors);
    await holder?.close();
    app?.remove();
  });

  it('does not let the process start communicators of the workflows it lost', async () => {
    assertCliBuilt();
    app = await prepareFleetApp('reglate');
    const server = inject('postgres');
    holder = new HeartbeatAnswerHolder({ host: server.host, port: server.port });
    const viaHolder = configVariant(app, 'held', { hostname: '127.0.0.1', port: await holder.listen() }, { leaseMs: HELD_LEASE_MS });
    executors.push(...(await Promise.all([startExecutor(app, { configFile: viaHolder }), startExecutor(app), startExecutor(app)])));
    const [late] = executors as [FleetProcess];
    const lateInstance = await instanceOf(app, late.pid);
    expect(await registeredLease(app, lateInstance)).toBe(HELD_LEASE_MS);
    const uuids = await startWorkflows(late, 'steps', 5, [STEPS, STEP_MS]);
    holder.arm();
    expect(await waitUntil(() => holder!.holding, 5_000, 20), 'a heartbeat answer is held').toBe(true);
    const heldAt = Date.now();
    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(app!, 'SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, lateInstance]);
        return n === 0;
      }, 20_000),
      'the others adopted the workflows while the answer was held',
    ).toBe(true);
    const adoptedAt = Date.now();
    await pause(Math.max(0, heldAt + 1.5 * HELD_LEASE_MS - Date.now()));
    const releasedAt = Date.now();
    holder.release();
    expect(await allEnded(app, uuids, 30_000), JSON.stringify(await statusCounts(app, uuids))).toBe(true);
    await pause(1_000);

    const events = sideEvents(app);
    const afterRelease = events.filter((e) => e.ev === 'start' && e.pid === late.pid && e.t >= releasedAt);
    const starts = new Map<string, number>();
    for (const e of events) if (e.ev === 'start') starts.set(`${e.uuid}/${e.step}`, (starts.get(`${e.uuid}/${e.step}`) ?? 0) + 1);
    const twice = [...starts].filter(([, n]) => n > 1).length;
    console.log(
      `[regression] heartbeat answer held ${releasedAt - heldAt} ms (workflows adopted after ${adoptedAt - heldAt} ms): ` +
        `communicators the late process started after the release ${afterRelease.length}; steps started twice ${twice}`,
    );
    expect(afterRelease, 'communicators started by the process whose lease lapsed, for workflows others own').toEqual([]);
    expect(twice).toBe(0);
  }, 90_000);
});
