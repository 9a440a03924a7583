/**
 * Recovery of thousands of PENDING workflows is bounded: it pages through them, loads records in
 * bulk, and never opens more connections than the pools allow.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { connectTo, query, startRuntime, testConfig } from './helpers/test-databases.js';

const COUNT = 2_000;
const POOL = 4;
let frozen = true;

class Bulk {
  @Communicator()
  static async first(_ctx: CommunicatorContext, i: number): Promise<number> {
    return i;
  }
  @Communicator()
  static async second(_ctx: CommunicatorContext, i: number): Promise<number> {
    if (frozen) await new Promise(() => undefined); // the first process "dies" here
    return i * 2;
  }
  @Workflow()
  static async flow(ctx: WorkflowContext, i: number): Promise<number> {
    return (await ctx.invoke(Bulk).first(i)) + (await ctx.invoke(Bulk).second(i));
  }
}

const runtimes: OperonRuntime[] = [];
afterAll(() => Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 }))));

describe('recovery at scale', () => {
  it(`recovers ${COUNT} pending workflows with a pool of ${POOL} connections per database`, async () => {
    const config = testConfig('scale', { database: { poolSize: POOL } });
    const crashed = await startRuntime([Bulk], config);
    runtimes.push(crashed);
    const fn = crashed.registry.lookup(Bulk, 'flow');
    for (let i = 0; i < COUNT; i += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, j) => crashed.executor.startWorkflow(fn, [i + j], { workflowUUID: `bulk-${i + j}` })));
    }
    const sys = config.database.system_database;
    const waitForFirstSteps = async () => {
      for (;;) {
        const [{ n }] = await query(sys, 'SELECT count(*)::int AS n FROM operon.operation_outputs');
        if (n === COUNT) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await waitForFirstSteps();
    frozen = false;

    const monitor = await connectTo('postgres');
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await monitor.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ANY($1) AND application_name NOT IN ('operon-listener', 'operon-notifier')",
          [[sys, config.database.user_database]],
        );
        peak = Math.max(peak, rows[0]!.n);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const started = Date.now();
    const recovering = await OperonRuntime.create({ config, classes: [Bulk], logger: crashed.logger });
    runtimes.push(recovering);
    const recovered = await recovering.recover();
    await Promise.all(Array.from({ length: COUNT }, (_, i) => recovering.client.retrieveWorkflow(`bulk-${i}`).getResult()));
    const seconds = (Date.now() - started) / 1000;
    sampling = false;
    await sampler;
    await monitor.end();
    console.log(`recovered ${recovered} workflows in ${seconds.toFixed(2)} s; peak connections ${peak} (pools of ${POOL})`);
    expect(recovered).toBe(COUNT);
    const [{ n }] = await query(sys, "SELECT count(*)::int AS n FROM operon.workflow_status WHERE status = 'SUCCESS'");
    expect(n).toBe(COUNT);
    // Both runtimes' pools (system + app each): nothing beyond them was opened.
    expect(peak).toBeLessThanOrEqual(4 * POOL);
  });
});
