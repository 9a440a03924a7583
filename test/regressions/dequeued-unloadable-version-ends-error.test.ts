/**
 * A workflow dequeued by an executor that cannot load the version it was enqueued on (its bundle
 * missing here, or failing to import) ended ERROR with OPERON_ERR_VERSION_LOAD_FAILED: lost, though
 * an executor that can load that version would have run it.
 *
 * Expected: it is left for such an executor: back in its queue, ENQUEUED with no owner (the
 * dequeues of this process skip that version until its failed load's pause ends; an executor that can load it takes it),
 * with a log line naming it and the version. It is not handed over PENDING: that would hold a slot
 * of its queue (see unloadable-version-holds-queue-slot.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { WorkflowQueue } from '@operon/sdk';
import { OperonRuntime, workflowDetail } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { query, testConfig } from '../helpers/test-databases.js';
import { ordersOf } from '../versions/check-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-vdequeue-'));
const config = { ...testConfig('vdequeue'), appDir: dir };
const Orders = ordersOf(3);
const queue = new WorkflowQueue('unloadable-version-orders');
let runtime: OperonRuntime | undefined;

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const sys = (text: string, values: unknown[] = []) => query(config.database.system_database, text, values);

it('a dequeued workflow whose version does not load here is put back in its queue for an executor that can load it, not ended ERROR', { timeout: 60_000 }, async () => {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  runtime = await OperonRuntime.create({ config, classes: [Orders], logger });
  await runtime.recover();
  // Held back an hour: it waits while the test says it was enqueued on a version whose bundle fails to import.
  const handle = await (runtime.client.invoke(Orders, { workflowUUID: 'queued-on-broken', queue: { queue, delaySeconds: 3_600 } }) as unknown as {
    process(id: string): Promise<{ getWorkflowUUID(): string }>;
  }).process('q');
  const broken = Buffer.from(`throw new Error('this bundle cannot load here'); // ${Math.random()}\n`);
  const brokenVersion = versionOf(broken);
  await sys(`INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [brokenVersion, broken]);
  await sys(`UPDATE operon.workflow_status SET version = $1, queue_not_before = 0 WHERE workflow_uuid = $2`, [brokenVersion, handle.getWorkflowUUID()]);

  const state = async () => (await sys(`SELECT status, owner FROM operon.workflow_status WHERE workflow_uuid = 'queued-on-broken'`))[0];
  const left = () => lines.filter((line) => line.includes(`left workflow queued-on-broken for an executor that can load version ${brokenVersion}`));
  const deadline = Date.now() + 20_000;
  while (left().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  // Polls go on: none takes it again here but once the load's pause (1 s, then 2 s) has ended.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(await state()).toEqual({ status: 'ENQUEUED', owner: null });
  expect(left().length).toBeGreaterThanOrEqual(1);
  expect(left().length).toBeLessThanOrEqual(2);

  const detail = await workflowDetail(runtime, 'queued-on-broken');
  expect(detail.status).toBe('ENQUEUED');
  expect(detail.waitingOn).toMatchObject({ kind: 'queue' });
});
