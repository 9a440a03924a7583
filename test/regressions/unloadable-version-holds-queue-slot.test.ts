/**
 * A dequeued workflow whose version no executor can load (its bundle fails to import everywhere)
 * was handed over PENDING: a PENDING workflow of a queue counts against the queue's concurrency,
 * so it held a slot for ever, and a queue of concurrency 1 started nothing more, whatever version
 * the next workflows were on.
 *
 * Expected: a workflow waiting for an executor that can load its version takes no slot of its
 * queue: it waits ENQUEUED, skipped by the dequeues of executors that cannot load it, and the
 * queue's other workflows run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { WorkflowQueue } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { query, testConfig } from '../helpers/test-databases.js';
import { ordersOf } from '../versions/check-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-vslot-'));
const config = { ...testConfig('vslot'), appDir: dir };
const Orders = ordersOf(2);
const queue = new WorkflowQueue('unloadable-version-slot', { concurrency: 1 });
let runtime: OperonRuntime | undefined;

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const sys = (text: string, values: unknown[] = []) => query(config.database.system_database, text, values);
const statusOf = async (uuid: string) => (await sys(`SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1`, [uuid]))[0]?.status;

it('a workflow whose version loads nowhere holds no slot of its queue: the next one of the queue runs', { timeout: 60_000 }, async () => {
  const lines: string[] = [];
  runtime = await OperonRuntime.create({ config, classes: [Orders], logger: createLogger('info', { write: (line: string) => void lines.push(line) }) });
  await runtime.recover();
  type Invoked = { process(id: string): Promise<{ getWorkflowUUID(): string }> };
  // Held back an hour while the test says it was enqueued on a version whose bundle fails to import.
  await (runtime.client.invoke(Orders, { workflowUUID: 'slot-broken', queue: { queue, delaySeconds: 3_600 } }) as unknown as Invoked).process('a');
  const broken = Buffer.from(`throw new Error('this bundle loads nowhere'); // ${Math.random()}\n`);
  const brokenVersion = versionOf(broken);
  await sys(`INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [brokenVersion, broken]);
  await sys(`UPDATE operon.workflow_status SET version = $1, queue_not_before = 0 WHERE workflow_uuid = 'slot-broken'`, [brokenVersion]);
  const deadline = Date.now() + 20_000;
  while (!lines.some((line) => line.includes(`load version ${brokenVersion}`)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(lines.filter((line) => line.includes(`left workflow slot-broken for an executor that can load version ${brokenVersion}`))).toHaveLength(1);

  // On the current code, after it in the queue's order.
  await (runtime.client.invoke(Orders, { workflowUUID: 'slot-next', queue: { queue } }) as unknown as Invoked).process('b');
  const started = Date.now() + 15_000;
  while ((await statusOf('slot-next')) === 'ENQUEUED' && Date.now() < started) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await statusOf('slot-next')).toBe('PENDING');
  // Still waiting for an executor that can load it, neither ended nor taking a slot.
  expect(await statusOf('slot-broken')).toBe('ENQUEUED');
});
