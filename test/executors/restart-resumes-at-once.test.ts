/**
 * A restarted process on the same host resumes its dead predecessor's work at once, before it
 * serves, without waiting for the lease to lapse, while another live executor would only adopt
 * it after the lease. And a host whose clock is an hour off changes nothing about leases: they
 * are judged by the database's clock and the local monotonic one.
 *
 * A restart's start (Node, the CLI, the app, the migration check) can take longer than a 6 s lease
 * on a loaded machine, and then the live executor adopts first by the lease, which proves nothing
 * about the restart. So every executor's lease is long (LEASE_MS, runtimeConfig.leaseMs): the
 * restart must take its workflows while the predecessor's lease still holds, which only the
 * same-host path can; and no executor's own slow start or stalled beat can let its lease lapse
 * (a restart declared dead between its registration and its first beat would be fenced and go on
 * as another instance). They still beat every 2 s, so the skewed one would adopt whatever a
 * misjudged lease gave it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import {
  allEnded,
  instanceOf,
  killAll,
  lastHeartbeat,
  prepareFleetApp,
  sideEvents,
  spawnExecutor,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  type FleetApp,
  type FleetProcess,
} from './fleet.js';

/** Longer than the whole test may take: no lease lapses within it. */
const LEASE_MS = 120_000;

let app: FleetApp;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('exrestart', { leaseMs: LEASE_MS, heartbeatIntervalMs: 2_000 });
  const skew = join(app.dir, 'clock-behind.mjs');
  writeFileSync(skew, 'const now = Date.now.bind(Date);\nDate.now = () => now() - 3_600_000;\n');
  // The second one's clock runs an hour behind: it must neither be declared dead nor declare others dead.
  executors.push(...(await Promise.all([startExecutor(app), startExecutor(app, { env: { NODE_OPTIONS: `--import ${skew}` } })])));
});

afterAll(async () => {
  await killAll(executors);
  app?.remove();
});

describe('a restart on the same host', () => {
  it('takes its predecessor\'s workflows before serving, well before the lease would lapse', async () => {
    const [first, skewed] = executors as [FleetProcess, FleetProcess];
    const firstInstance = await instanceOf(app, first.pid);
    const skewedInstance = await instanceOf(app, skewed.pid);
    // Registered with the configured lease (the database judges each lease by its row's lease_ms).
    expect(await sys(app, 'SELECT DISTINCT lease_ms FROM operon.executors WHERE instance_id = ANY($1)', [[firstInstance, skewedInstance]])).toEqual([{ lease_ms: LEASE_MS }]);
    const uuids = await startWorkflows(first, 'steps', 20, [3, 1_000]);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    first.signal('SIGKILL');
    await first.server.exited;
    const killedAt = Date.now();
    const lastBeat = await lastHeartbeat(app, firstInstance);
    const restarted = await spawnExecutor(app);
    executors.push(restarted);
    await restarted.server.waitFor(/operon: serving on/, 30_000);
    const servingAt = Date.now();
    const restartedInstance = await instanceOf(app, restarted.pid);
    // Declared dead because its process is gone, not because its lease lapsed: that still holds.
    const [predecessor] = await sys<{ state: string; lease_left_ms: number }>(
      app,
      `SELECT state, (extract(epoch FROM heartbeat_at + lease_ms * interval '1 millisecond' - now()) * 1000)::int AS lease_left_ms
       FROM operon.executors WHERE instance_id = $1`,
      [firstInstance],
    );
    expect(predecessor!.state, 'the predecessor once the restart serves').toBe('dead');
    expect(predecessor!.lease_left_ms, 'ms left of the predecessor\'s lease once the restart serves').toBeGreaterThan(0);
    const owners = await sys<{ owner: string; n: number }>(app, 'SELECT owner, count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) GROUP BY owner', [uuids]);
    // On failure: every instance registered so far (a restart fenced by its own slow start shows as two of its pid) and its output.
    const registered = async () => JSON.stringify(await sys(app, 'SELECT instance_id, pid, state, lease_ms, heartbeat_at FROM operon.executors ORDER BY started_at'));
    expect(owners, `owners once the restart serves; executors ${await registered()}; the restart printed:\n${restarted.output()}`).toEqual([{ owner: restartedInstance, n: 20 }]);
    expect(restarted.output()).toMatch(/recovered 20 pending workflows/);
    expect(await allEnded(app, uuids, 20_000)).toBe(true);
    expect(await statusCounts(app, uuids)).toEqual({ SUCCESS: 20 });
    const resumed = sideEvents(app).filter((e) => e.ev === 'start' && e.pid === restarted.pid);
    const firstResumedAt = Math.min(...resumed.map((e) => e.t));
    const firstResumed = firstResumedAt - killedAt;
    // The skewed executor stayed live all along and adopted nothing; nobody was fenced.
    const states = await sys<{ instance_id: string; state: string }>(app, 'SELECT instance_id, state FROM operon.executors WHERE instance_id = ANY($1)', [[firstInstance, skewedInstance]]);
    expect(Object.fromEntries(states.map((s) => [s.instance_id === firstInstance ? 'first' : 'skewed', s.state]))).toEqual({ first: 'dead', skewed: 'live' });
    expect(sideEvents(app).filter((e) => e.pid === skewed.pid)).toEqual([]);
    expect(executors.some((e) => /was fenced/.test(e.output()))).toBe(false);
    console.log(
      `[executors] restart on the same host: serving ${servingAt - killedAt} ms after the kill with its predecessor's 20 workflows; ` +
        `first resumed step ${firstResumed} ms after the kill (its lease, configured to ${LEASE_MS} ms, had ${predecessor!.lease_left_ms} ms left at serving); ` +
        'an executor with its clock 1 h behind stayed live and adopted nothing',
    );
    expect(firstResumedAt, 'the first resumed step, before the predecessor\'s lease lapses').toBeLessThan(lastBeat + LEASE_MS);
  }, 60_000);
});
