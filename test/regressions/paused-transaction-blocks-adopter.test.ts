/**
 * A process paused inside a transaction keeps its row locks, and its adopter waits on them for as
 * long as the pause lasts.
 *
 * The fence stops a paused process's transaction from committing (its final statement checks
 * workflow_owners), but nothing ends the transaction itself: its session stays open, idle in
 * transaction, holding every lock its statements took. The adopter re-runs the transaction from
 * the last record, and its first UPDATE of the same row waits for that lock. The adopted
 * workflow makes no progress until the paused process wakes up or dies (a frozen VM or a cut
 * network: hours, with default TCP keepalives), although it was adopted within the lease.
 *
 * Reproduction: executors A and B; a workflow on A runs a transaction that updates the one row of
 * fleet_counters and then waits (inside the transaction) for a gate file. A is SIGSTOPped; B
 * adopts the workflow; the gate opens (so only the lock can hold B up). Expected: the workflow
 * completes within 12 s of the adoption while A stays paused (the adopter ends the lapsed
 * executor's sessions, or transactions cannot stay idle past the lease).
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

const fleet = useFleet('reglock', (app) => Promise.all([startExecutor(app), startExecutor(app)]));
const { executors } = fleet;

describe('a process paused inside a transaction', () => {
  it('does not keep its adopter waiting on the transaction\'s locks', async () => {
    const [a] = executors as [FleetProcess];
    const aInstance = await instanceOf(fleet.app, a.pid);
    const [uuid] = (await startWorkflows(a, 'lockedTransaction', 1, [])) as [string];
    expect(await waitUntil(() => sideEvents(fleet.app).some((e) => e.ev === 'locked'), 10_000)).toBe(true);
    const stoppedAt = Date.now();
    a.signal('SIGSTOP');
    expect(
      await waitUntil(async () => {
        const [{ owner }] = await sys<{ owner: string }>(fleet.app, 'SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
        return owner !== aInstance;
      }, 15_000),
    ).toBe(true);
    const adoptedAt = Date.now();
    writeFileSync(fleet.app.gate, '');
    const ended = await allEnded(fleet.app, [uuid], 12_000);
    const [{ waiting }] = await appDb<{ waiting: number }>(
      fleet.app,
      `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    const [{ idle }] = await appDb<{ idle: number }>(
      fleet.app,
      `SELECT count(*)::int AS idle FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
    );
    console.log(
      `[regression] paused inside a transaction: adopted ${adoptedAt - stoppedAt} ms after SIGSTOP; 12 s later ${JSON.stringify(await statusCounts(fleet.app, [uuid]))}; ` +
        `sessions waiting on a lock ${waiting}, idle in transaction ${idle}`,
    );
    expect(ended, 'the adopted workflow completed while the paused process kept its transaction open').toBe(true);
  }, 60_000);
});
