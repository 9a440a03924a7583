/**
 * A paused process's open transaction still blocks the process that replaces it under the same
 * explicit executor id.
 *
 * When a heartbeat declares an executor dead (its lease lapsed), it also ends that executor's
 * database sessions, so a transaction a paused process left open cannot hold its adopter on its
 * locks. But a start with the same explicit OPERON_EXECUTOR_ID declares a lapsed holder dead
 * itself (executor-lease.ts, register(): `setExecutorState([holder.instanceId], 'dead')`),
 * without ending its sessions; its first heartbeat then finds the holder dead already (the
 * heartbeat's `lapsed` only ends the sessions of executors it moves from live to dead). The new
 * process adopts the workflow, re-runs the transaction, and waits on the paused process's row
 * lock for as long as the pause lasts.
 *
 * Reproduction: one executor with OPERON_EXECUTOR_ID=X runs a workflow whose transaction updates
 * the one fleet_counters row and then waits for a gate inside the transaction; it is SIGSTOPped;
 * 3 s later (its 2 s lease, runtimeConfig.leaseMs, lapsed; no other executor runs to declare it
 * dead) the gate opens and a new
 * `operon start` with OPERON_EXECUTOR_ID=X starts. Expected: the workflow completes within 12 s
 * of the new process serving, while the old one stays paused.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  appDb,
  instanceOf,
  sideEvents,
  startExecutor,
  startWorkflows,
  statusCounts,
  sys,
  waitUntil,
  type FleetProcess,
} from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';

const ID = 'replaced-executor';
/** Short, so that its lapse is a short wait; the wait is a second longer. */
const LEASE_MS = 2_000;
const fleet = useFleet('regsameid', async (app) => [await startExecutor(app, { executorId: ID })], { runtimeConfig: { leaseMs: LEASE_MS } });
const { executors } = fleet;

describe('a replacement under the same explicit executor id for a process paused inside a transaction', () => {
  it('is not held up by the paused process\'s locks', async () => {
    const [paused] = executors as [FleetProcess];
    const pausedInstance = await instanceOf(fleet.app, paused.pid);
    const [uuid] = (await startWorkflows(paused, 'lockedTransaction', 1, [])) as [string];
    expect(await waitUntil(() => sideEvents(fleet.app).some((e) => e.ev === 'locked'), 10_000)).toBe(true);
    const stoppedAt = Date.now();
    paused.signal('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 1_000));
    writeFileSync(fleet.app.gate, '');
    const replacement = await startExecutor(fleet.app, { executorId: ID });
    executors.push(replacement);
    const servingAt = Date.now();
    const replacementInstance = await instanceOf(fleet.app, replacement.pid);
    const ended = await allEnded(fleet.app, [uuid], 12_000);
    const [{ owner }] = await sys<{ owner: string }>(fleet.app, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
    const [{ state }] = await sys<{ state: string }>(fleet.app, 'SELECT state FROM operon.executors WHERE instance_id = $1', [pausedInstance]);
    const [{ waiting, idle }] = await appDb<{ waiting: number; idle: number }>(
      fleet.app,
      `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting, count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle
       FROM pg_stat_activity WHERE datname = current_database()`,
    );
    console.log(
      `[regression] replacement with the same executor id, ${servingAt - stoppedAt} ms after SIGSTOP: paused executor ${state}, ` +
        `workflow owned by the replacement ${owner === replacementInstance}; 12 s later ${JSON.stringify(await statusCounts(fleet.app, [uuid]))}; ` +
        `sessions waiting on a lock ${waiting}, idle in transaction ${idle}`,
    );
    expect(ended, 'the adopted workflow completed while the paused process kept its transaction open').toBe(true);
  }, 60_000);
});
