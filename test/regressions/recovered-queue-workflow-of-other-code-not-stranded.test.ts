/**
 * Regression: a queue workflow recovered by an executor that could not load its version went back
 * to its queue, ENQUEUED, even when that executor's code does not register its workflow. A queue
 * is dequeued only by executors whose own code registers the workflow: so once the fleet runs
 * newer code without it, nobody ever dequeued it, even after its version loaded again. Handed over
 * PENDING (as before), any executor that can load its version adopts it.
 *
 * Expected: it goes back to its queue only if this executor's code would dequeue it (registers its
 * workflow, declares its queue); else it is handed over, and runs on its version once that loads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';
import { ordersOf, versionBundle } from '../versions/check-app.js';

const lane = new WorkflowQueue('other-code-lane', { concurrency: 4 });
const v1 = ordersOf(1);

/** The newer code: it no longer has v1's workflow. */
class Newer {
  @Workflow()
  static async other(_ctx: WorkflowContext): Promise<string> {
    return 'other';
  }
}

const dir = mkdtempSync(join(tmpdir(), 'operon-vothercode-'));
const config = { ...testConfig('vothercode'), appDir: dir };
const runtimes: OperonRuntime[] = [];
const sys = (text: string, values: unknown[] = []) => query(config.database.system_database, text, values);

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const statusOf = async () => (await sys(`SELECT status FROM operon.workflow_status WHERE workflow_uuid = 'queued-v1'`))[0]?.status as string | undefined;

it('a recovered queue workflow the newer code does not register runs on its version once it loads, not stranded in its queue', { timeout: 60_000 }, async () => {
  const bundled = await OperonRuntime.create({ config, classes: [v1], bundle: versionBundle(1, String(Math.random())), logger: createLogger('silent') });
  runtimes.push(bundled);
  await bundled.recover();
  await bundled.client.invoke(v1, { workflowUUID: 'queued-v1', queue: { queue: lane } }).process('a');
  for (let i = 0; i < 1500 && (await statusOf()) !== 'PENDING'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(await statusOf()).toBe('PENDING');
  await bundled.destroy({ timeoutMs: 0 });

  // v1's stored bundle is damaged as the newer code's executor recovers it: its first load fails.
  const [{ version, bundle }] = (await sys(`SELECT w.version, v.bundle FROM operon.workflow_status w JOIN operon.versions v USING (version) WHERE workflow_uuid = 'queued-v1'`)) as { version: string; bundle: Buffer }[];
  await sys(`UPDATE operon.versions SET bundle = $2 WHERE version = $1`, [version, Buffer.concat([bundle, Buffer.from('\n// damaged\n')])]);
  const newer = await OperonRuntime.create({ config, classes: [Newer], logger: createLogger('silent') });
  runtimes.push(newer);
  await newer.recover();
  // Its load failed: sent back to its queue (before), or handed over to a stopped holder.
  const left = async () =>
    (await statusOf()) === 'ENQUEUED' ||
    (await sys(`SELECT 1 FROM operon.workflow_status w JOIN operon.executors e ON e.instance_id = w.owner WHERE workflow_uuid = 'queued-v1' AND e.state = 'stopped'`)).length > 0;
  for (let i = 0; i < 1500 && !(await left()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(await left()).toBe(true);
  // Its bundle is whole again: it runs on v1 (the failed load's pause is 1 s, then 2 s).
  await sys(`UPDATE operon.versions SET bundle = $2 WHERE version = $1`, [version, bundle]);
  await newer.client.send('queued-v1', 'go', 'go');
  const result = newer.client.retrieveWorkflow('queued-v1').getResult();
  // Before, it waited ENQUEUED for ever: the newer code never dequeues v1's workflow.
  const waited = new Promise((resolve) => setTimeout(resolve, 15_000, `still ${'waiting'}`));
  expect(await Promise.race([result, waited])).toBe('v1:reserve-a:go');
});
