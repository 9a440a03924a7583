/**
 * A communicator tried again after its backoff calls out without asking whether the lease holds.
 *
 * The lease is checked once per step, before the step's first attempt (workflow-execution.ts,
 * step()). A communicator's retries (communicator-step.ts: a failed attempt, a backoff wait, the
 * next attempt) call the app's code again with no check: a process paused (SIGSTOP) during the
 * backoff past its lease wakes up and calls out again for a workflow another executor adopted and
 * runs, and it goes on calling out at every retry even after it logged that it was fenced, until
 * the communicator's attempts run out. Two live processes call the outside world for one step.
 *
 * Reproduction, real processes: two `operon start`; one workflow whose communicator fails until a
 * gate file exists, tried again every 2 s. A's lease is 3 s (B keeps 6 s, so that a loaded machine
 * cannot lapse it). The workflow's first attempt fails in process A, which is paused
 * at once, during the backoff; B adopts the workflow (its lease lapsed) and tries in turn; A is
 * woken. Expected: A calls out no more (no attempt of A after the wake), then the gate opens and
 * the workflow ends by B.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import {
  allEnded,
  instanceOf,
  killAll,
  prepareFleetApp,
  registeredLease,
  shortLeaseConfig,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetApp,
  type FleetProcess,
} from '../executors/fleet.js';
import { writeFileSync } from 'node:fs';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lease of the process paused; the adopter keeps the default. */
const PAUSED_LEASE_MS = 3_000;

describe('a communicator in its backoff when its process is paused past the lease', () => {
  let app: FleetApp | undefined;
  const executors: FleetProcess[] = [];
  afterAll(async () => {
    await killAll(executors);
    app?.remove();
  });

  it('is not called again by the woken process once another executor adopted the workflow', async () => {
    assertCliBuilt();
    app = await prepareFleetApp('regretry');
    executors.push(...(await Promise.all([startExecutor(app, { configFile: shortLeaseConfig(app, PAUSED_LEASE_MS) }), startExecutor(app)])));
    const [paused, adopter] = executors as [FleetProcess, FleetProcess];
    const pausedInstance = await instanceOf(app, paused.pid);
    expect(await registeredLease(app, pausedInstance)).toBe(PAUSED_LEASE_MS);
    const [uuid] = await startWorkflows(paused, 'retrying', 1, []);
    const attemptsBy = (pid: number, since = 0) => sideEvents(app!).filter((e) => e.ev === 'start' && e.pid === pid && e.t >= since);
    expect(await waitUntil(() => attemptsBy(paused.pid).length > 0, 10_000, 10), 'the first attempt failed').toBe(true);
    // Paused during the 2 s backoff (an attempt fails at once: the process is always in a backoff).
    paused.signal('SIGSTOP');
    const stoppedAt = Date.now();
    expect(
      await waitUntil(async () => {
        const [{ owner }] = await sys<{ owner: string | null }>(app!, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
        return owner !== pausedInstance;
      }, 20_000),
      'the other executor adopted the workflow',
    ).toBe(true);
    expect(await waitUntil(() => attemptsBy(adopter.pid).length > 0, 10_000, 50), 'the adopter calls out').toBe(true);
    const wokenAt = Date.now();
    paused.signal('SIGCONT');
    await paused.server.waitFor(/was fenced/, 15_000);
    // A retry interval more: a retry loop that ignores the lease calls out at the wake and in it.
    await pause(2_500);
    const afterWake = attemptsBy(paused.pid, wokenAt);
    writeFileSync(app.gate, '');
    expect(await allEnded(app, [uuid!], 15_000), JSON.stringify(await statusCounts(app, [uuid!]))).toBe(true);
    console.log(
      `[regression] paused ${wokenAt - stoppedAt} ms in a communicator's backoff; attempts by the adopter ${attemptsBy(adopter.pid).length}, ` +
        `by the woken process after its wake ${afterWake.length}`,
    );
    expect(afterWake, 'attempts of the woken process for a workflow another executor runs').toEqual([]);
    expect(await statusCounts(app, [uuid!])).toEqual({ SUCCESS: 1 });
  }, 90_000);
});
