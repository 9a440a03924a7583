/**
 * An executor with no bundle of its own (a testing runtime, an app that passes its classes to
 * `OperonRuntime.create`) took every version for its own: `isCurrent` was true for any version
 * when the executor had none. Adopting a workflow another executor started on v1, it ran it on
 * whatever classes it had; and a version it could not load was held PENDING by it, so no executor
 * that could load it ever got the workflow.
 *
 * Expected: the unbundled executor runs a v1 workflow on v1, loaded from the system database; a
 * workflow whose version cannot be loaded here is left for another executor (handed over, not
 * claimed again by this one), with a log line and a metric saying so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { query, testConfig } from '../helpers/test-databases.js';
import { ordersOf, versionBundle } from '../versions/check-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-vunbundled-'));
const config = { ...testConfig('vunbundled'), appDir: dir };
const classes = { 1: ordersOf(1), 3: ordersOf(3) };
const runtimes: OperonRuntime[] = [];

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const sys = (text: string, values: unknown[] = []) => query(config.database.system_database, text, values);

it('an executor without a bundle runs another version\'s workflow on that version, and leaves one it cannot load', { timeout: 60_000 }, async () => {
  const tag = String(Math.random());
  const bundled = await OperonRuntime.create({ config, classes: [classes[1]], bundle: versionBundle(1, tag), logger: createLogger('silent') });
  runtimes.push(bundled);
  await bundled.recover();
  await bundled.client.invoke(classes[1], { workflowUUID: 'on-v1' }).process('a');
  await bundled.client.invoke(classes[1], { workflowUUID: 'on-broken' }).process('b');
  await bundled.destroy({ timeoutMs: 0 });
  // A version whose bundle fails as it loads: 'on-broken' says it started on it.
  const broken = Buffer.from(`throw new Error('this bundle cannot load here');\n`);
  const brokenVersion = versionOf(broken);
  await sys(`INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [brokenVersion, broken]);
  await sys(`UPDATE operon.workflow_status SET version = $1 WHERE workflow_uuid = 'on-broken'`, [brokenVersion]);

  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
  const unbundled = await OperonRuntime.create({ config, classes: [classes[3]], logger });
  runtimes.push(unbundled);
  await unbundled.recover();
  await unbundled.client.send('on-v1', 'go', 'go');
  expect(await unbundled.client.retrieveWorkflow('on-v1').getResult()).toBe('v1:reserve-a:go');

  // Left for another executor: held by a stopped handover instance, which this one does not claim again.
  const ownerOfBroken = async () => (await sys(`SELECT w.status, e.state FROM operon.workflow_status w JOIN operon.executors e ON e.instance_id = w.owner WHERE workflow_uuid = 'on-broken'`))[0];
  expect(await ownerOfBroken()).toEqual({ status: 'PENDING', state: 'stopped' });
  // operon versions shows it waiting for an executor that can load its version, not running.
  expect((await unbundled.systemDb.listVersions()).find((v) => v.version === brokenVersion)).toMatchObject({ pending: 1, waitingForLoad: 1 });
  await new Promise((resolve) => setTimeout(resolve, 4_500)); // two heartbeats, each offering the handed-over workflow for adoption
  expect(await ownerOfBroken()).toEqual({ status: 'PENDING', state: 'stopped' });
  // Claimed again only when the failed load's pause (1 s, 2 s, 4 s) has ended, and left again.
  const leftTimes = lines.filter((line) => line.includes(`left workflow on-broken for an executor that can load version ${brokenVersion}`)).length;
  expect(leftTimes).toBeGreaterThanOrEqual(1);
  expect(leftTimes).toBeLessThanOrEqual(3);
  expect(await unbundled.metrics.text()).toMatch(new RegExp(`operon_workflows_left_for_other_executors_total\\{version="${brokenVersion}"\\} [1-3]\\b`));
});
