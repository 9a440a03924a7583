/**
 * A heartbeat answered late sets the database clock ahead by half its delay, and an adopted sleep
 * that ends before the next heartbeat corrects it ends early.
 *
 * DatabaseClock.observe (executor/database-clock.ts:18) takes every heartbeat's reading as the
 * new offset, with the midpoint of send and answer as its local time; nothing bounds, filters or
 * discards a reading whose round trip was long. The send time is taken before the pool hands out
 * a connection (executor-lease.ts:150-153 and :199-202; the system pool waits without a bound,
 * database/pools.ts:78-95) and before any lock wait inside the statement, while the database's
 * reading (executors.ts:103, clock_timestamp()) is taken at its end. A heartbeat that waited D
 * before it ran sets the clock D/2 ahead until the next heartbeat (2 s later) measures again; a
 * recorded deadline that is waited for from a timer armed in that window (an adopted or
 * recovered sleep, a recv or getEvent timeout re-armed after a wake-up) fires up to D/2 early, and
 * waitFor (workflow-messaging.ts:164) then finds it `final` by the same shifted clock.
 *
 * Reproduction: executor A (everything here is on one host, so the true offset is 0) starts 5
 * workflows that sleep 11 s, then run a communicator; A is SIGKILLed. While executor B starts, a
 * session holds a row lock on A's executors row, so B's first heartbeat (the one that declares A
 * dead and lists its workflows to adopt) waits inside the database (about 9 s, the stand-in for
 * a heartbeat queued behind a busy pool or a slow server) and is let through 1.5 s before the
 * sleeps end. B adopts them by a clock about 4.5 s ahead. Expected: no communicator runs before
 * the 11 s are over; found: all 5 run about 1.2-1.5 s early.
 */
import { describe, expect, it } from 'vitest';
import { allEnded, instanceOf, sideEvents, spawnExecutor, startWorkflows, sys, waitUntil, type FleetProcess } from '../executors/fleet.js';
import { useFleet } from '../helpers/fleet-scaffold.js';
import { connectTo } from '../helpers/test-databases.js';

const SLEEP_SECONDS = 11;
/** The heartbeat is let through this long before the sleeps end: within the interval before the next heartbeat corrects the clock. */
const RELEASE_BEFORE_END_MS = 1_500;

const fleet = useFleet('reglatebeat');
const { executors } = fleet;

describe('a heartbeat answered late', () => {
  it('does not cut an adopted sleep short', async () => {
    const [a] = executors as [FleetProcess];
    const instanceA = await instanceOf(fleet.app, a.pid);
    const startedAt = Date.now();
    const uuids = await startWorkflows(a, 'sleepThenWork', 5, [SLEEP_SECONDS]);
    expect(
      await waitUntil(async () => {
        const [{ n }] = await sys<{ n: number }>(fleet.app, 'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = ANY($1)', [uuids]);
        return n === 5;
      }, 10_000, 50),
    ).toBe(true);
    a.signal('SIGKILL');
    await a.server.exited;

    let heldFrom = 0;
    const locker = await connectTo(fleet.app.systemDatabase);
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM operon.executors WHERE instance_id = $1 FOR UPDATE', [instanceA]);
      const b = await spawnExecutor(fleet.app);
      executors.push(b);
      // B's first heartbeat, waiting on the lock.
      expect(
        await waitUntil(async () => {
          const rows = await sys(fleet.app, `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH beat AS%'`);
          return rows.length > 0;
        }, 20_000, 50),
        'B heartbeat waiting on the lock',
      ).toBe(true);
      heldFrom = Date.now();
      await new Promise((resolve) => setTimeout(resolve, startedAt + SLEEP_SECONDS * 1000 - RELEASE_BEFORE_END_MS - Date.now()));
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    const releasedAt = Date.now();
    await allEnded(fleet.app, uuids, 8_000);
    const ran = sideEvents(fleet.app).filter((e) => e.ev === 'start');
    const end = startedAt + SLEEP_SECONDS * 1000;
    const early = ran.filter((e) => e.t < end - 250);
    console.log(
      `[regression] heartbeat answered ${Math.round((releasedAt - heldFrom) / 100) / 10} s late, ${RELEASE_BEFORE_END_MS / 1000} s before the sleeps end: ${ran.length} of 5 communicators ran; ` +
        `${early.length} before the ${SLEEP_SECONDS} s sleep was over (earliest ${ran.length ? Math.round((end - Math.min(...ran.map((e) => e.t))) / 100) / 10 : 0} s early)`,
    );
    expect(early, 'communicators that ran before the sleep was over').toEqual([]);
  }, 45_000);
});
