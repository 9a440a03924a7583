/**
 * A heartbeat whose answer arrives late confirms a lease that already lapsed.
 *
 * The database dates a heartbeat when it runs (`heartbeat_at = now()`), and judges the lease
 * from then: it lapses LEASE_MS (6 s) later and another executor may adopt. The process dates
 * its local lease from when it *reads the answer* (executor-lease.ts, beat():
 * `this.confirmedAt = performance.now()` after `await heartbeat(...)`), and trusts it for 4 s
 * more. When the answer is held up (a process paused with a heartbeat in flight — on SIGCONT
 * it reads the old "alive" — a GC pause, a stalled network), the local lease runs seconds past
 * the database's: steps that see `holds()` true, or that joined the beat in flight through
 * `confirm()`, start communicators of workflows another executor already runs. Their records are
 * fenced afterwards; their side effects happen twice. A lease dated from when the heartbeat was
 * sent (the earliest moment the database can have dated it) has no such window.
 *
 * Reproduction (exact, without timing luck): the lease over a system database whose heartbeat
 * runs at once and answers 4.5 s later. 2 s after the answer the database's lease has lapsed
 * (6.5 s after the heartbeat ran); `holds()` must say so.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ExecutorLease, LEASE_MS } from '../../packages/runtime/src/executor/executor-lease.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import type { SystemDatabase } from '../../packages/runtime/src/system-db/system-database.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a heartbeat answered 4.5 s after it ran', () => {
  it('does not make the lease last past the database\'s', async () => {
    let ranAt = 0;
    const systemDb = {
      registerExecutor: async () => ({}),
      setExecutorState: async () => undefined,
      liveInstancesOnHost: async () => [],
      heartbeat: async () => {
        ranAt = performance.now();
        await pause(4_500);
        return { alive: true, toAdopt: [] };
      },
    } as unknown as SystemDatabase;
    const lease = new ExecutorLease(systemDb, createLogger('silent'), undefined, { adopt: () => undefined, fenced: () => undefined });
    await lease.register();
    // A step whose local lease ran out asks the database; the answer comes 4.5 s after the heartbeat ran.
    await pause(LEASE_MS - 1_000);
    expect(lease.holds(lease.instanceId)).toBe(false);
    expect(await lease.confirm(lease.instanceId)).toBe(true);
    await pause(2_000);
    const sinceHeartbeatRan = performance.now() - ranAt;
    console.log(`[regression] ${Math.round(sinceHeartbeatRan)} ms after the heartbeat ran (the database's lease lapsed at ${LEASE_MS} ms): holds() = ${lease.holds(lease.instanceId)}`);
    expect(sinceHeartbeatRan).toBeGreaterThan(LEASE_MS);
    expect(lease.holds(lease.instanceId), 'local lease after the database\'s lapsed').toBe(false);
  }, 20_000);
});
