/**
 * Regression: two runtimes of one process under one executor id fenced each other in turn. A
 * second runtime that starts under the id of a live first one in the same process takes it over
 * (the first one is declared dead, as a restart's predecessor would be). The first one is then
 * fenced at its next heartbeat, and its renewal found the live holder in the same process and
 * declared it dead too, as if it were its own replaced predecessor: the second was fenced in its
 * turn, renewed and declared the first dead, and so on, each time taking the workflows back (a
 * recovery of 2,000 workflows stalled past a minute). Now the fenced runtime's renewal leaves a
 * live holder of its own process alone and stops: the second runtime keeps its instance, and a
 * workflow started on it before and after runs once, to the end, on it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';
import { HEARTBEAT_INTERVAL_MS } from '../../packages/runtime/src/executor/executor-lease.js';

class Taken {
  @Workflow()
  static async slow(ctx: WorkflowContext, seconds: number): Promise<string> {
    await ctx.sleep(seconds);
    return 'done';
  }
}

const config = testConfig('reg_sameproc');
const runtimes: OperonRuntime[] = [];
afterAll(async () => {
  for (const runtime of runtimes.reverse()) await runtime.destroy({ timeoutMs: 1_000 });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const instances = () =>
  query<{ instance_id: string; state: string }>(config.database.system_database, 'SELECT instance_id, state FROM operon.executors WHERE executor_id = $1 ORDER BY instance_id', [
    config.runtimeConfig.executorId,
  ]);

describe('a second runtime of the same process under the same executor id', () => {
  it('keeps the id: the first, fenced, stops instead of fencing it back', async () => {
    const first = await startRuntime([Taken], config);
    runtimes.push(first);
    const second = await startRuntime([Taken], config);
    runtimes.push(second);
    const taker = second.executor.lease.instanceId;
    const fn = second.registry.lookup(Taken, 'slow');
    const handle = await second.executor.startWorkflow(fn, [(4 * HEARTBEAT_INTERVAL_MS) / 1000], { workflowUUID: 'sameproc-1' });

    // Long enough for the first to be fenced, renew, and (before the fix) fence the second back, twice.
    await sleep(4 * HEARTBEAT_INTERVAL_MS);
    expect(second.executor.lease.instanceId, 'the second runtime was fenced and renewed').toBe(taker);
    const live = (await instances()).filter((row) => row.state === 'live').map((row) => row.instance_id);
    expect(live).toEqual([taker]);

    expect(await handle.getResult()).toBe('done');
    const later = await second.executor.startWorkflow(fn, [0.01], { workflowUUID: 'sameproc-2' });
    expect(await later.getResult()).toBe('done');
    const owners = await query<{ owner: string; status: string }>(config.database.system_database, 'SELECT owner, status FROM operon.workflow_status WHERE workflow_uuid LIKE $1', ['sameproc-%']);
    expect(owners).toEqual([
      { owner: taker, status: 'SUCCESS' },
      { owner: taker, status: 'SUCCESS' },
    ]);
  }, 40_000);
});
