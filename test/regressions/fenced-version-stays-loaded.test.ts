/**
 * An execution abandoned because its executor was fenced never released the version it ran on:
 * the release sat in the `.finally` of the execution, which an abandoned execution never reaches.
 * After a fencing the process went on with the old version loaded for good (listed in its
 * heartbeat's loaded versions, its registry kept), even once the workflow had ended.
 *
 * Reproduction: a runtime on v2 recovers a v1 workflow waiting in recv (v1 is loaded beside v2);
 * its instance is declared dead in the system database, so its next heartbeat fences it; it takes
 * the workflow up again as its new instance. The message comes and the workflow ends.
 * Expected: v1 is unloaded (only v2 remains loaded here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { query, testConfig } from '../helpers/test-databases.js';
import { ordersOf, versionBundle } from '../versions/check-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-vfenced-'));
const config = { ...testConfig('vfenced'), appDir: dir };
const logger = createLogger('silent');
const classes = { 1: ordersOf(1), 2: ordersOf(2) };
const runtimes: OperonRuntime[] = [];

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

it('a fenced execution releases its version: once its workflow ends, the version is unloaded', { timeout: 60_000 }, async () => {
  const tag = String(Math.random());
  const first = await OperonRuntime.create({ config, classes: [classes[1]], bundle: versionBundle(1, tag), logger });
  runtimes.push(first);
  await first.recover();
  await first.client.invoke(classes[1], { workflowUUID: 'fenced-v1' }).process('a');
  await first.destroy({ timeoutMs: 0 });

  const second = await OperonRuntime.create({ config, classes: [classes[2]], bundle: versionBundle(2, tag), logger });
  runtimes.push(second);
  await second.recover();
  const versions = second.executor.deps.versions;
  const v1 = versionBundle(1, tag).version;
  expect(versions.versions()).toContain(v1);
  const before = second.executor.lease.instanceId;
  await query(config.database.system_database, `UPDATE operon.executors SET state = 'dead' WHERE instance_id = $1`, [before]);
  // Fenced at its next heartbeat; it registers again as a new instance and adopts the workflow back.
  const owner = async () => (await query(config.database.system_database, `SELECT owner FROM operon.workflow_status WHERE workflow_uuid = 'fenced-v1'`))[0]?.owner;
  await expect.poll(async () => second.executor.lease.instanceId !== before && (await owner()) === second.executor.lease.instanceId, { timeout: 20_000 }).toBe(true);
  await second.client.send('fenced-v1', 'go', 'go');
  expect(await second.client.retrieveWorkflow('fenced-v1').getResult()).toBe('v1:reserve-a:go');
  await expect.poll(() => versions.versions(), { timeout: 5_000 }).toEqual([versionBundle(2, tag).version]);
});
