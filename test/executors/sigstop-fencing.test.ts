/**
 * A process paused (SIGSTOP) past its lease (3 s; the others' 6 s) while its workflows sleep: the other executors adopt
 * them and finish them; woken (SIGCONT), the paused process finds its sleeps over and its lease
 * gone. It writes nothing for the adopted workflows (no transaction row, no communicator side
 * effect, no record), runs none of their communicators again, logs that it was fenced, and goes
 * on serving as a new instance.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  appDb,
  instanceOf,
  registeredLease,
  shortLeaseConfig,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetProcess,
} from './fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const WORKFLOWS = 60;
/**
 * The lease of the process paused; the others keep the default (6 s), so that a loaded machine
 * cannot lapse them. The pause lasts one and a half of its leases (or until the others adopted).
 */
const PAUSED_LEASE_MS = 3_000;
const PAUSE_MS = 1.5 * PAUSED_LEASE_MS;
/** Not longer than the pause: the paused process wakes with every sleep of its workflows over. */
const SLEEP_SECONDS = 4;

const fleet = useFleet('exstop', (app) =>
  Promise.all([startExecutor(app, { configFile: shortLeaseConfig(app, PAUSED_LEASE_MS) }), startExecutor(app), startExecutor(app)]),
);
const { executors } = fleet;

describe('SIGSTOP past the lease, adoption, SIGCONT', () => {
  it('the woken process writes nothing for the adopted workflows, reruns none of their communicators and logs that it was fenced', async () => {
    const { app } = fleet;
    const [sleeper, ...others] = executors as [FleetProcess, FleetProcess, FleetProcess];
    const sleeperInstance = await instanceOf(app, sleeper.pid);
    expect(await registeredLease(app, sleeperInstance)).toBe(PAUSED_LEASE_MS);
    for (const other of others) expect(await registeredLease(app, await instanceOf(app, other.pid))).toBe(6_000);
    const uuids = await startWorkflows(sleeper, 'napping', WORKFLOWS, [SLEEP_SECONDS]);
    // Every workflow did its first communicator and recorded its sleep: all of them are asleep.
    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
        return n === 2 * WORKFLOWS;
      }, 15_000),
    ).toBe(true);

    const stoppedAt = Date.now();
    sleeper.signal('SIGSTOP');
    const adopted = await waitUntil(async () => {
      const [{ n }] = await sys<{ n: number }>(app, 'SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, sleeperInstance]);
      return n === 0;
    }, 15_000);
    const adoptedAt = Date.now();
    expect(adopted, 'the others adopted every workflow of the paused process').toBe(true);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + PAUSE_MS - Date.now())));
    const wokenAt = Date.now();
    sleeper.signal('SIGCONT');

    expect(await allEnded(app, uuids, 20_000), JSON.stringify(await statusCounts(app, uuids))).toBe(true);
    await sleeper.server.waitFor(/was fenced/, 10_000);
    // Time for anything the woken process would still do with its old workflows.
    await new Promise((resolve) => setTimeout(resolve, 2_000));

    expect(await statusCounts(app, uuids)).toEqual({ SUCCESS: WORKFLOWS });
    const events = sideEvents(app);
    expect(events.filter((e) => e.pid === sleeper.pid && e.t >= stoppedAt), 'side effects of the woken process').toEqual([]);
    expect(events.filter((e) => e.ev === 'caught')).toEqual([]);
    // Each communicator of each workflow ran exactly once: step 0 by the sleeper, step 3 by an adopter.
    for (const step of [0, 3]) {
      const starts = events.filter((e) => e.ev === 'start' && e.step === step);
      expect(new Set(starts.map((e) => e.uuid)).size).toBe(WORKFLOWS);
      expect(starts).toHaveLength(WORKFLOWS);
    }
    const otherPids = new Set(others.map((o) => o.pid));
    expect(events.filter((e) => e.step === 3).every((e) => otherPids.has(e.pid))).toBe(true);
    // The transaction (step 2) committed once per workflow, never by the woken process.
    const writes = await appDb<{ pid: number; n: number }>(app, 'SELECT pid, count(*)::int AS n FROM fleet_writes WHERE workflow_uuid = ANY($1) GROUP BY pid', [uuids]);
    expect(writes.find((w) => w.pid === sleeper.pid)).toBeUndefined();
    expect(writes.reduce((sum, w) => sum + w.n, 0)).toBe(WORKFLOWS);
    // Records: the four operations of each workflow, once each (sleep's deadline and the transaction's output included).
    const [{ records }] = await sys<{ records: number }>(app, 'SELECT count(*)::int AS records FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
    const [{ outputs }] = await appDb<{ outputs: number }>(app, 'SELECT count(*)::int AS outputs FROM operon.transaction_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
    expect({ records, outputs }).toEqual({ records: 3 * WORKFLOWS, outputs: WORKFLOWS });
    // No workflow is its old instance's any more; the woken process is a new live instance that serves.
    const [{ owned }] = await sys<{ owned: number }>(app, 'SELECT count(*)::int AS owned FROM operon.workflow_status WHERE owner = $1', [sleeperInstance]);
    expect(owned).toBe(0);
    const fencedLines = sleeper.output().split('\n').filter((line) => /was fenced/.test(line));
    const [again] = await startWorkflows(sleeper, 'steps', 1, [1, 10]);
    expect(await allEnded(app, [again!], 10_000)).toBe(true);
    const [{ owner }] = await sys<{ owner: string }>(app, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [again]);
    expect(owner).not.toBe(sleeperInstance);
    expect(owner).toBe(await instanceOf(app, sleeper.pid));
    console.log(
      `[executors] SIGSTOP ${PAUSE_MS / 1000} s (its lease ${PAUSED_LEASE_MS / 1000} s) with ${WORKFLOWS} sleeping workflows: all adopted ${adoptedAt - stoppedAt} ms after the stop; ` +
        `woken at +${wokenAt - stoppedAt} ms; writes by the woken process 0, communicators re-run 0; fenced log lines ${fencedLines.length}: ${fencedLines[0]?.slice(0, 200)}`,
    );
  }, 90_000);
});
