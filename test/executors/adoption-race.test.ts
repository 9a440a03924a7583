/**
 * Five live executors race to adopt one SIGKILLed executor's 1,000 PENDING workflows (each asleep
 * when it died, so nothing of theirs ran yet): each workflow is adopted by exactly one, its
 * communicator runs once, and the adoption counts the five log sum to 1,000.
 *
 * Left to themselves the five rarely race: the heartbeat that declares the dead executor dead is
 * the only one that sees it at once (the others' statements read the row as it was when they
 * began), and its claim is done before their next heartbeat. So the test makes them race: it
 * pauses all five (SIGSTOP, well inside their own leases), declares the dead one dead as a
 * lapsed heartbeat would, and wakes all five at the same instant (SIGCONT): their overdue
 * heartbeats all list the dead executor and all five claim its workflows at once.
 *
 * The five racers' leases are lengthened first (RACER_LEASE_MS): with the real 6 s lease, a racer
 * whose last beat was late (a loaded machine) lapses under the pause or before its first beat after
 * it, another racer declares it dead and takes its claims while it still runs their communicators.
 * That is the fencing rule at work, not the race this test is about.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASE_MS } from '../../packages/runtime/src/executor/executor-lease.js';
import { assertCliBuilt } from '../cli/cli-process.js';
import {
  allEnded,
  instanceOf,
  killAll,
  lastHeartbeat,
  prepareFleetApp,
  setLease,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetApp,
  type FleetProcess,
} from './fleet.js';

const WORKFLOWS = 1_000;
const RACERS = 5;
/** The workflows' sleep: every one of them is asleep until after the kill. */
const SLEEP_SECONDS = 16;
/** No racer's lease may lapse within the test, however slow the machine: only the dead one's matters. */
const RACER_LEASE_MS = 120_000;

let app: FleetApp;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('exrace');
  executors.push(...(await Promise.all(Array.from({ length: RACERS + 1 }, () => startExecutor(app)))));
});

afterAll(async () => {
  await killAll(executors);
  app?.remove();
});

describe(`${RACERS} executors racing to adopt one dead executor's ${WORKFLOWS} workflows`, () => {
  it('adopts each exactly once and runs each communicator once', async () => {
    const [dead, ...racers] = executors as [FleetProcess, ...FleetProcess[]];
    const deadInstance = await instanceOf(app, dead.pid);
    await setLease(app, await Promise.all(racers.map((r) => instanceOf(app, r.pid))), RACER_LEASE_MS);
    const startedAt = Date.now();
    // Asleep until well after the adoption: the adopters, not the dead one, run every communicator.
    const uuids = await startWorkflows(dead, 'sleepThenWork', WORKFLOWS, [SLEEP_SECONDS]);
    // The kill comes once every sleep is recorded, or 3 s before the first one could end (a loaded
    // machine records slowly): a workflow not yet asleep is adopted from its start, and still runs
    // its communicator once.
    let asleep = 0;
    await waitUntil(async () => {
      const [{ n }] = await sys<{ n: number }>(app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
      asleep = n;
      return n === WORKFLOWS;
    }, SLEEP_SECONDS * 1000 - 3_000 - (Date.now() - startedAt));
    expect(asleep, 'workflows asleep at the kill').toBeGreaterThan(0);
    const recordedIn = Date.now() - startedAt;
    dead.signal('SIGKILL');
    await dead.server.exited;
    const killedAt = Date.now();
    const lastBeat = await lastHeartbeat(app, deadInstance);
    for (const racer of racers) racer.signal('SIGSTOP');
    const pausedAt = Date.now();
    await sys(app, `UPDATE operon.executors SET state = 'dead' WHERE instance_id = $1`, [deadInstance]);
    // Longer than a heartbeat interval (every racer wakes with its heartbeat due), far shorter than the racers' leases.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + 2_500 - Date.now())));
    for (const racer of racers) racer.signal('SIGCONT');
    const wokeAt = Date.now();

    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(app, 'SELECT count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) AND owner = $2', [uuids, deadInstance]);
        return n === 0;
      }, 15_000, 50),
      'every workflow of the dead executor adopted',
    ).toBe(true);
    const allAdoptedAt = Date.now();
    expect(await allEnded(app, uuids, 40_000), JSON.stringify(await statusCounts(app, uuids))).toBe(true);
    expect(await statusCounts(app, uuids)).toEqual({ SUCCESS: WORKFLOWS });

    const events = sideEvents(app).filter((e) => e.ev === 'start');
    const perWorkflow = new Map<string, number>();
    for (const e of events) perWorkflow.set(e.uuid, (perWorkflow.get(e.uuid) ?? 0) + 1);
    expect(perWorkflow.size).toBe(WORKFLOWS);
    expect([...perWorkflow.values()].filter((n) => n !== 1), 'workflows whose communicator ran more than once').toEqual([]);
    const racerPids = new Set(racers.map((r) => r.pid));
    expect(events.every((e) => racerPids.has(e.pid))).toBe(true);

    const logged = racers.map((r) => [...r.output().matchAll(/adopted (\d+) workflows of/g)].reduce((sum, m) => sum + Number(m[1]), 0));
    const claims = racers.map((r) => [...r.output().matchAll(/adopted (\d+) workflows of/g)].length);
    const owners = await sys<{ owner: string; n: number }>(app, 'SELECT owner, count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) GROUP BY owner ORDER BY n DESC', [uuids]);
    const ran = racers.map((r) => events.filter((e) => e.pid === r.pid).length);
    console.log(
      `[executors] ${RACERS} racers, ${WORKFLOWS} workflows of one SIGKILLed executor (${asleep} asleep at the kill, ${recordedIn} ms after the start): ` +
        `all adopted ${allAdoptedAt - killedAt} ms after the kill, ${allAdoptedAt - wokeAt} ms after the wake, ${allAdoptedAt - lastBeat} ms after its last heartbeat; ` +
        `adopted per racer (logged) ${logged.join(' + ')} = ${logged.reduce((a, b) => a + b, 0)} in ${claims.join('/')} adoption runs; ` +
        `communicators run per racer ${ran.join(' + ')}; owners ${owners.map((o) => o.n).join(' + ')}`,
    );
    expect(logged.reduce((a, b) => a + b, 0)).toBe(WORKFLOWS);
    expect(claims.filter((n) => n > 0).length, 'racers that ran an adoption').toBeGreaterThan(1);
    expect(ran).toEqual(logged);
    // Adopted by the heartbeats due at the wake, not by some later one: within a lease of it. (Not
    // counted from the dead one's last heartbeat: on a loaded machine that stalled for 14 s while it
    // started its 1,000 workflows.)
    expect(allAdoptedAt - wokeAt, 'ms from the wake until all were adopted').toBeLessThanOrEqual(LEASE_MS);
  }, 100_000);
});
