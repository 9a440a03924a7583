/**
 * Regression: pg-pool applied connectionTimeoutMillis to the wait for a free connection, so a burst
 * of calls larger than the pool failed with "timeout exceeded when trying to connect" while the
 * database was healthy. Waiting for the pool is now unbounded; only opening a connection times out.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

let runtime: OperonRuntime;
afterAll(() => runtime?.destroy());

describe('a burst larger than the pool', () => {
  it('queues for connections instead of failing', async () => {
    const config = testConfig('burst', { database: { poolSize: 2, connectionTimeoutMillis: 200 } });
    runtime = await startRuntime([], config);
    const results = await Promise.allSettled(
      Array.from({ length: 600 }, (_, i) => runtime.messaging.send('nobody-yet', { i }, 'burst')),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const [{ n }] = await query(config.database.system_database, "SELECT count(*)::int AS n FROM operon.notifications WHERE topic = 'burst'");
    expect(n).toBe(600);
  });
});
