import { afterAll, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { connectTo, listenDirectly, query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { until } from './messaging-helpers.js';

class Inbox {
  @Workflow()
  static async waitOne(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('wake', 120);
  }
}

const WORKFLOWS = 1_000;
const POOL_SIZE = 10;
const SENDERS = 25;

const runtimes: OperonRuntime[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 })));
});

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

it(`blocks ${WORKFLOWS} workflows in recv at once within the pool's limit, then wakes them all`, async () => {
  const config = testConfig('many', { database: { poolSize: POOL_SIZE, ...listenDirectly() } });
  const rt = await startRuntime([Inbox], config);
  runtimes.push(rt);
  const sys = config.database.system_database;
  // Samples the system database's connections (the listener and the notifier apart) while the test runs.
  const observer = await connectTo('postgres');
  let maxPoolConnections = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await observer.query(
        // The pool's sessions carry the runtime's tag (operon-<hex>); this observer's own does not.
        `SELECT count(*) FILTER (WHERE application_name LIKE 'operon-%' AND application_name NOT IN ('operon-listener', 'operon-notifier'))::int AS pool,
                count(*) FILTER (WHERE application_name = 'operon-listener')::int AS listeners
         FROM pg_stat_activity WHERE datname = $1`,
        [sys],
      );
      maxPoolConnections = Math.max(maxPoolConnections, rows[0].pool);
      expect(rows[0].listeners).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  try {
    const rssBefore = process.memoryUsage().rss;
    const fn = rt.registry.lookup(Inbox, 'waitOne');
    const startedAt = Date.now();
    const handles = await Promise.all(Array.from({ length: WORKFLOWS }, (_, i) => rt.executor.startWorkflow(fn, [], { workflowUUID: `inbox-${i}` })));
    await until(`${WORKFLOWS} workflows to wait in recv`, () => rt.messaging.waitingCount === WORKFLOWS, 45_000);
    const blockedAt = Date.now();
    global.gc?.();
    const rss = process.memoryUsage().rss;
    console.log(
      `${WORKFLOWS} workflows blocked in recv after ${blockedAt - startedAt} ms: RSS ${mb(rss)} (${mb(rss - rssBefore)} more than before), ` +
        `heap ${mb(process.memoryUsage().heapUsed)}, at most ${maxPoolConnections} pool and heartbeat connections on the system database (pool size ${POOL_SIZE}, and the heartbeat's one)`,
    );
    // Senders as a client would run them, a few dozen at a time: a burst of 1,000 at once would
    // queue past the pool's connectionTimeoutMillis, which bounds the wait for a pool client too.
    let next = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        for (let i = next++; i < WORKFLOWS; i = next++) await rt.messaging.send(`inbox-${i}`, { n: i }, 'wake');
      }),
    );
    const results = await Promise.all(handles.map((h) => h.getResult()));
    console.log(`${WORKFLOWS} sends delivered and all workflows done ${Date.now() - blockedAt} ms after the last one blocked`);
    expect(results).toEqual(Array.from({ length: WORKFLOWS }, (_, i) => ({ n: i })));
    expect(rt.messaging.waitingCount).toBe(0);
  } finally {
    sampling = false;
    await sampler;
    await observer.end();
  }
  expect(maxPoolConnections).toBeGreaterThan(0);
  // The pool's connections, and the heartbeat's own one (it carries the runtime's tag too).
  expect(maxPoolConnections).toBeLessThanOrEqual(POOL_SIZE + 1);
  const [left] = await query(sys, 'SELECT count(*)::int AS n FROM operon.notifications');
  expect(left.n).toBe(0);
});
