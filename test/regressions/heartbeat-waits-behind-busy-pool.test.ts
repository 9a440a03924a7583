/**
 * Regression: the heartbeat shared the system database's pool. When every connection of that pool
 * was held (long system work, many workflows at once), the heartbeat waited behind them, the lease
 * lapsed, and another executor declared the healthy one dead and adopted its workflows.
 *
 * Reproduction: two runtimes on one system database, A with a pool of 2. A starts a workflow that
 * waits for a message; then both connections of A's system pool are taken and held in open
 * transactions for longer than the lease (6 s) plus a heartbeat interval. Expected: A's lease
 * holds throughout (its executor row stays live, its heartbeat keeps being renewed), B adopts
 * nothing, and once the pool is free A finishes the workflow itself. The heartbeat's own
 * connection, ended at the server (a cut, a restart), is opened again by the next heartbeat.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import type pg from 'pg';
import type { OperonRuntime } from '@operon/runtime';
import { HEARTBEAT_INTERVAL_MS, LEASE_MS } from '../../packages/runtime/src/executor/executor-lease.js';
import { waitUntil } from '../executors/fleet.js';
import { query, startRuntime, testConfig, withExecutorId } from '../helpers/test-databases.js';

class BusyPool {
  @Workflow()
  static async waitForGo(ctx: WorkflowContext): Promise<string> {
    return `got ${await ctx.recv<string>('go', 60)}`;
  }
}

let a: OperonRuntime;
let b: OperonRuntime;
let sysDb: string;
const held: pg.PoolClient[] = [];

beforeAll(async () => {
  const config = testConfig('busy_pool', { database: { poolSize: 2 } });
  sysDb = config.database.system_database;
  a = await startRuntime([BusyPool], config);
  b = await startRuntime([BusyPool], withExecutorId(config, `${sysDb}-b`));
});

afterAll(async () => {
  for (const client of held.splice(0)) client.release(true);
  await b?.destroy({ timeoutMs: 1000 });
  await a?.destroy({ timeoutMs: 1000 });
});

it("keeps a runtime's lease while its system pool is held whole, and nobody adopts its workflows", async () => {
  const instance = a.executor.lease.instanceId;
  const handle = await a.client.invoke(BusyPool).waitForGo();
  const uuid = handle.getWorkflowUUID();
  const owner = async () => (await query(sysDb, `SELECT owner FROM operon.workflow_status WHERE workflow_uuid = $1`, [uuid]))[0]?.owner;
  expect(await waitUntil(async () => (await owner()) === instance, 5_000)).toBe(true);

  const pool = a.systemDb.systemPool;
  for (let i = 0; i < 2; i++) held.push(await pool.connect());
  for (const client of held) await client.query('BEGIN; SELECT 1');
  const executorRow = async () =>
    (
      await query<{ state: string; since_beat_ms: number }>(
        sysDb,
        `SELECT state, (extract(epoch FROM now() - heartbeat_at) * 1000)::int AS since_beat_ms FROM operon.executors WHERE instance_id = $1`,
        [instance],
      )
    )[0]!;
  // Past the lease and one more heartbeat of B (which would declare A dead), then one more interval.
  const until = Date.now() + LEASE_MS + 2 * HEARTBEAT_INTERVAL_MS;
  let oldestBeatMs = 0;
  while (Date.now() < until) {
    const row = await executorRow();
    oldestBeatMs = Math.max(oldestBeatMs, row.since_beat_ms);
    expect(row.state, 'A, whose pool is busy, as its registration says').toBe('live');
    expect(await owner(), 'the owner of A\'s workflow').toBe(instance);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  console.log(`[regression] A's system pool held whole for ${LEASE_MS + 2 * HEARTBEAT_INTERVAL_MS} ms: its heartbeat at most ${oldestBeatMs} ms old`);
  expect(oldestBeatMs).toBeLessThan(LEASE_MS);

  for (const client of held.splice(0)) {
    await client.query('COMMIT');
    client.release();
  }
  await a.client.send(uuid, 'now', 'go');
  expect(await handle.getResult()).toBe('got now');
  expect((await executorRow()).state).toBe('live');
}, 40_000);

it("opens the heartbeat's connection again after the server ended it", async () => {
  const instance = a.executor.lease.instanceId;
  const beatAt = async () =>
    Number((await query(sysDb, `SELECT (extract(epoch FROM heartbeat_at) * 1000)::bigint AS at FROM operon.executors WHERE instance_id = $1`, [instance]))[0]!.at);
  const [{ ended }] = await query<{ ended: number }>(
    sysDb,
    `SELECT count(pg_terminate_backend(pid))::int AS ended FROM pg_stat_activity
     WHERE datname = current_database() AND query LIKE '%heartbeat_at = now()%' AND pid <> pg_backend_pid()`,
  );
  // A's and B's heartbeat connections.
  expect(ended).toBeGreaterThanOrEqual(1);
  const cutAt = await beatAt();
  expect(await waitUntil(async () => (await beatAt()) > cutAt, 3 * HEARTBEAT_INTERVAL_MS)).toBe(true);
  expect((await query(sysDb, `SELECT state FROM operon.executors WHERE instance_id = $1`, [instance]))[0].state).toBe('live');
}, 20_000);
