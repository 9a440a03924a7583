/**
 * SIGTERM of one of two executors with workflows in flight: running workflows go on for
 * runtimeConfig.shutdownGraceMs, the rest are handed over, and the other executor resumes them at
 * once (at its next heartbeat, well under the 6 s lease). Nothing runs twice; no error reaches
 * workflow code.
 *
 * The grace is timed by the leaving process's own log lines (when it received the signal, when it
 * handed over), not by this process's clock: on a loaded machine the signal is handled, and the
 * grace's timer fires, late.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  instanceOf,
  percentile,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  type FleetProcess,
} from './fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';
import { until } from '../helpers/poll.js';

const GRACE_MS = 1_500;
const WORKFLOWS = 50;
const STEPS = 5;
const STEP_MS = 1_000;

/** Well under the 6 s lease: the staying executor adopts at its next beat, not when a lease lapses. */
const HEARTBEAT_MS = 500;

const fleet = useFleet('exterm', (app) => Promise.all([0, 1].map(() => startExecutor(app))), { runtimeConfig: { shutdownGraceMs: GRACE_MS, heartbeatIntervalMs: HEARTBEAT_MS } });

/** When the process logged its first line matching `message` (the line's own ISO `time`, by its clock). */
function loggedAt(executor: FleetProcess, message: RegExp): number {
  for (const line of executor.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { time?: string; msg?: string };
    if (entry.time !== undefined && message.test(entry.msg ?? '')) return Date.parse(entry.time);
  }
  throw new Error(`no log line matching ${message} in:\n${executor.output()}`);
}
const { executors } = fleet;

describe('SIGTERM hands the rest over', () => {
  it('the other executor resumes them at once, nothing runs twice, no error reaches workflow code', async () => {
    const { app } = fleet;
    const [leaving, staying] = executors as [FleetProcess, FleetProcess];
    const leavingInstance = await instanceOf(app, leaving.pid);
    const handedOver = await startWorkflows(leaving, 'steps', WORKFLOWS, [STEPS, STEP_MS]);
    const local = await startWorkflows(staying, 'steps', 10, [STEPS, STEP_MS]);
    // The signal once every handed-over workflow has begun (by its own side events, not this
    // process's clock): the last ones begun have STEPS s of work left, far more than the grace,
    // so some are still running at the handover however late a loaded machine takes the signal.
    const begun = new Set(handedOver);
    await until(() => new Set(sideEvents(app).filter((e) => e.ev === 'start' && begun.has(e.uuid)).map((e) => e.uuid)).size === begun.size, 'every handed-over workflow to begin');
    const termAt = Date.now();
    leaving.signal('SIGTERM');
    const exit = await leaving.server.exited;
    const exitedAt = Date.now();
    expect(exit).toEqual({ code: 0, signal: null });
    const [{ state }] = await sys<{ state: string }>(app, 'SELECT state FROM operon.executors WHERE instance_id = $1', [leavingInstance]);
    expect(state).toBe('stopped');

    const all = [...handedOver, ...local];
    expect(await allEnded(app, all, 30_000), JSON.stringify(await statusCounts(app, all))).toBe(true);
    expect(await statusCounts(app, all)).toEqual({ SUCCESS: all.length });

    const events = sideEvents(app);
    expect(events.filter((e) => e.ev === 'caught'), 'errors that reached workflow code').toEqual([]);
    // Nothing ran twice: one start and one done per step of every workflow.
    for (const ev of ['start', 'done'] as const) {
      const count = new Map<string, number>();
      for (const e of events) if (e.ev === ev) count.set(`${e.uuid}/${e.step}`, (count.get(`${e.uuid}/${e.step}`) ?? 0) + 1);
      expect(count.size, `${ev} events`).toBe(all.length * STEPS);
      expect([...count].filter(([, n]) => n !== 1), `steps with more than one ${ev}`).toEqual([]);
    }
    // By the leaving process's clock: it took the signal, let its workflows run the whole grace, then handed over.
    const termSeenAt = loggedAt(leaving, /SIGTERM received, stopping/);
    const handedOverAt = loggedAt(leaving, /the grace of \d+ ms is over; \d+ workflows still running are handed over/);
    expect(handedOverAt - termSeenAt, 'ms from the SIGTERM to the handover, by the leaving process').toBeGreaterThanOrEqual(GRACE_MS - 1); // 1: ms rounding of two clocks
    // During the grace the leaving process went on with its workflows (it started next steps)...
    const inGrace = events.filter((e) => e.ev === 'start' && e.pid === leaving.pid && e.t > termSeenAt && e.t < handedOverAt);
    expect(inGrace.length, 'steps the leaving process started during the grace').toBeGreaterThan(0);
    // ...and started none after it.
    expect(events.filter((e) => e.ev === 'start' && e.pid === leaving.pid && e.t > handedOverAt), 'steps started after the handover').toEqual([]);
    // The other resumed each handed-over workflow soon after the leaving one exited.
    const handed = new Set(handedOver);
    const resumedAt = new Map<string, number>();
    for (const e of events) if (e.ev === 'start' && handed.has(e.uuid) && e.pid === staying.pid && !resumedAt.has(e.uuid)) resumedAt.set(e.uuid, e.t);
    const finishedBefore = handedOver.filter((uuid) => !resumedAt.has(uuid)).length;
    const afterExit = [...resumedAt.values()].map((t) => t - exitedAt);
    const afterTerm = [...resumedAt.values()].map((t) => t - termAt);
    console.log(
      `[executors] SIGTERM with ${WORKFLOWS} workflows in flight, shutdownGraceMs ${GRACE_MS}: taken ${termSeenAt - termAt} ms after it was sent, ` +
        `handed over ${handedOverAt - termSeenAt} ms after it was taken; exited ${exitedAt - termAt} ms after SIGTERM; ` +
        `${resumedAt.size} resumed by the other (${finishedBefore} finished before), exit→resumed p50 ${percentile(afterExit, 50)} ms, ` +
        `max ${Math.max(...afterExit)} ms; SIGTERM→resumed max ${Math.max(...afterTerm)} ms; steps started in the grace ${inGrace.length}; steps run twice 0`,
    );
    expect(resumedAt.size).toBeGreaterThan(0);
    // At the staying executor's next beat (every HEARTBEAT_MS), not once a lease lapsed (6 s).
    expect(Math.max(...afterExit), 'ms from the exit to the last handed-over workflow resumed').toBeLessThan(3_000);
  }, 60_000);
});
