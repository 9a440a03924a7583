/**
 * A restarted process on the same host resumes its dead predecessor's work at once, before it
 * serves, without waiting for the lease to lapse, while another live executor would only adopt
 * it after the lease. And a host whose clock is an hour off changes nothing about leases: they
 * are judged by the database's clock and the local monotonic one.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import {
  allEnded,
  instanceOf,
  killAll,
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

let app: FleetApp;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('exrestart');
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
    const uuids = await startWorkflows(first, 'steps', 20, [3, 1_000]);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    first.signal('SIGKILL');
    await first.server.exited;
    const killedAt = Date.now();
    const restarted = await spawnExecutor(app);
    executors.push(restarted);
    await restarted.server.waitFor(/operon: serving on/, 30_000);
    const servingAt = Date.now();
    const restartedInstance = await instanceOf(app, restarted.pid);
    const owners = await sys<{ owner: string; n: number }>(app, 'SELECT owner, count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) GROUP BY owner', [uuids]);
    expect(owners, 'owners once the restart serves').toEqual([{ owner: restartedInstance, n: 20 }]);
    expect(restarted.output()).toMatch(/recovered 20 pending workflows/);
    expect(await allEnded(app, uuids, 20_000)).toBe(true);
    expect(await statusCounts(app, uuids)).toEqual({ SUCCESS: 20 });
    const resumed = sideEvents(app).filter((e) => e.ev === 'start' && e.pid === restarted.pid);
    const firstResumed = Math.min(...resumed.map((e) => e.t)) - killedAt;
    // The skewed executor stayed live all along and adopted nothing; nobody was fenced.
    const states = await sys<{ instance_id: string; state: string }>(app, 'SELECT instance_id, state FROM operon.executors WHERE instance_id = ANY($1)', [[firstInstance, skewedInstance]]);
    expect(Object.fromEntries(states.map((s) => [s.instance_id === firstInstance ? 'first' : 'skewed', s.state]))).toEqual({ first: 'dead', skewed: 'live' });
    expect(sideEvents(app).filter((e) => e.pid === skewed.pid)).toEqual([]);
    expect(executors.some((e) => /was fenced/.test(e.output()))).toBe(false);
    console.log(
      `[executors] restart on the same host: serving ${servingAt - killedAt} ms after the kill with its predecessor's 20 workflows; ` +
        `first resumed step ${firstResumed} ms after the kill (the lease is 6000 ms); an executor with its clock 1 h behind stayed live and adopted nothing`,
    );
    expect(firstResumed).toBeLessThan(5_000);
  }, 60_000);
});
