/**
 * Three `operon start` processes on one Postgres, 300 workflows in flight (100 each, four
 * communicators of 1.5 s), one process SIGKILLed: the other two adopt its workflows, all 300
 * complete, no recorded communicator runs again, and each adopted workflow resumes within 10 s of
 * the dead process's last heartbeat. Prints the adoption times (kill → resumed step).
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  instanceOf,
  lastHeartbeat,
  percentile,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  type FleetProcess,
} from './fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const PER_PROCESS = 100;
const STEPS = 4;
const STEP_MS = 1_500;

const fleet = useFleet('exkill', (app) => Promise.all([0, 1, 2].map(() => startExecutor(app))));
const { executors } = fleet;

describe('SIGKILL of one of three executors with 300 workflows in flight', () => {
  it('completes all 300, runs no recorded step again, and resumes the dead one\'s within 10 s of its last heartbeat', async () => {
    const { app } = fleet;
    const [victim, ...survivors] = executors as [FleetProcess, FleetProcess, FleetProcess];
    const victimInstance = await instanceOf(app, victim.pid);
    const batches = await Promise.all(executors.map((executor) => startWorkflows(executor, 'steps', PER_PROCESS, [STEPS, STEP_MS])));
    const all = batches.flat();
    const victims = new Set(batches[0]);
    expect(all).toHaveLength(3 * PER_PROCESS);

    // Into the second step of most workflows: some steps recorded, others in flight.
    await new Promise((resolve) => setTimeout(resolve, STEP_MS + 700));
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    await victim.server.exited;
    const victimLastBeat = await lastHeartbeat(app, victimInstance);
    // What the dead process had recorded (a statement it sent before dying may still commit: give it a moment).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const recordedAtKill = await sys<{ workflow_uuid: string; function_id: number }>(
      app,
      'SELECT workflow_uuid, function_id FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)',
      [[...victims]],
    );

    expect(await allEnded(app, all, 45_000), JSON.stringify(await statusCounts(app, all))).toBe(true);
    expect(await statusCounts(app, all)).toEqual({ SUCCESS: 3 * PER_PROCESS });
    const outputs = await sys<{ output: string }>(app, 'SELECT DISTINCT output FROM operon.workflow_status WHERE workflow_uuid = ANY($1)', [all]);
    expect(outputs.map((r) => r.output)).toEqual([JSON.stringify(`done ${STEPS}`)]);

    const events = sideEvents(app);
    const survivorPids = new Set(survivors.map((s) => s.pid));
    // No recorded step ran again: not one start of it after the kill.
    const recorded = new Set(recordedAtKill.map((r) => `${r.workflow_uuid}/${r.function_id}`));
    const rerunRecorded = events.filter((e) => e.ev === 'start' && e.t >= killedAt && recorded.has(`${e.uuid}/${e.step}`));
    expect(rerunRecorded, 'recorded communicators started again after the kill').toEqual([]);
    // Every step of every workflow did its side effect; only a step the kill cut off may have run twice.
    const doneCount = new Map<string, number>();
    for (const e of events) if (e.ev === 'done') doneCount.set(`${e.uuid}/${e.step}`, (doneCount.get(`${e.uuid}/${e.step}`) ?? 0) + 1);
    for (const uuid of all) for (let step = 0; step < STEPS; step++) expect(doneCount.get(`${uuid}/${step}`) ?? 0, `${uuid} step ${step}`).toBeGreaterThanOrEqual(1);
    const twice = [...doneCount].filter(([key, n]) => n > 1 && !victims.has(key.split('/')[0]!));
    expect(twice, 'steps of live executors done twice').toEqual([]);
    const twiceInVictims = [...doneCount].filter(([key, n]) => n > 1 && victims.has(key.split('/')[0]!)).length;
    expect(events.filter((e) => e.ev === 'caught')).toEqual([]);

    // Adoption time: from the kill to the first step a survivor started for each of the dead one's workflows.
    const resumedAt = new Map<string, number>();
    for (const e of events) {
      if (e.ev === 'start' && victims.has(e.uuid) && survivorPids.has(e.pid) && !resumedAt.has(e.uuid)) resumedAt.set(e.uuid, e.t);
    }
    expect(resumedAt.size, 'dead executor\'s workflows resumed by the survivors').toBe(PER_PROCESS);
    const fromKill = [...resumedAt.values()].map((t) => t - killedAt);
    const fromBeat = [...resumedAt.values()].map((t) => t - victimLastBeat);
    const adopters = await sys<{ owner: string; n: number }>(
      app,
      'SELECT owner, count(*)::int AS n FROM operon.workflow_status WHERE workflow_uuid = ANY($1) GROUP BY owner',
      [[...victims]],
    );
    const adoptedLogged = survivors.map((s) => [...s.output().matchAll(/adopted (\d+) workflows of/g)].reduce((sum, m) => sum + Number(m[1]), 0));
    console.log(
      `[executors] SIGKILL adoption, 3 processes, ${3 * PER_PROCESS} workflows (${PER_PROCESS} on the killed one): ` +
        `kill→resumed step p50 ${percentile(fromKill, 50)} ms, p99 ${percentile(fromKill, 99)} ms, max ${Math.max(...fromKill)} ms; ` +
        `last heartbeat→resumed p50 ${percentile(fromBeat, 50)} ms, p99 ${percentile(fromBeat, 99)} ms, max ${Math.max(...fromBeat)} ms; ` +
        `adopted per survivor (logged) ${adoptedLogged.join(' + ')}; owners ${adopters.map((a) => a.n).join(' + ')}; ` +
        `recorded steps re-run 0; cut-off steps done twice ${twiceInVictims}`,
    );
    expect(Math.max(...fromBeat)).toBeLessThanOrEqual(10_000);
    expect(adoptedLogged.reduce((a, b) => a + b, 0)).toBe(PER_PROCESS);
    expect(adopters.every((a) => a.owner !== victimInstance)).toBe(true);
  }, 90_000);
});
