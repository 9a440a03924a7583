/**
 * Regression: a queue workflow recovered (already PENDING, not dequeued) by an executor that
 * cannot load its version was handed over PENDING for an executor that can. PENDING, it kept its
 * queue's slot while it waited: with no executor able to load it, for ever, and a queue of
 * concurrency 1 ran nothing more.
 *
 * Expected: it goes back to its queue (ENQUEUED in its old place, no owner), as a dequeued one
 * does, so it holds no slot while it waits for an executor that can load its version; the queue's
 * other workflow runs. `operon versions` counts it ENQUEUED, not PENDING.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { query, testConfig } from '../helpers/test-databases.js';

const lane = new WorkflowQueue('recovered-unloadable-lane', { concurrency: 1 });

class Lane {
  @Workflow()
  static async waits(ctx: WorkflowContext): Promise<string> {
    return (await ctx.recv<string>('go', 300)) ?? 'timed out';
  }

  @Workflow()
  static async quick(_ctx: WorkflowContext): Promise<string> {
    return 'ran';
  }
}

const dir = mkdtempSync(join(tmpdir(), 'operon-vrslot-'));
const config = { ...testConfig('vrslot'), appDir: dir };
const runtimes: OperonRuntime[] = [];
const sys = (text: string, values: unknown[] = []) => query(config.database.system_database, text, values);

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

const invoke = (runtime: OperonRuntime, workflowUUID: string) =>
  runtime.client.invoke(Lane, { workflowUUID, queue: { queue: lane } }) as unknown as {
    waits(): Promise<import('@operon/sdk').WorkflowHandle<string>>;
    quick(): Promise<import('@operon/sdk').WorkflowHandle<string>>;
  };

it('a recovered queue workflow whose version loads nowhere gives up its slot: the queue runs on', { timeout: 60_000 }, async () => {
  const first = await OperonRuntime.create({ config, classes: [Lane], logger: createLogger('silent') });
  runtimes.push(first);
  await first.recover();
  const stuck = await invoke(first, 'on-unloadable').waits();
  for (let i = 0; i < 500 && (await stuck.getStatus())?.status !== 'PENDING'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect((await stuck.getStatus())?.status).toBe('PENDING');
  await first.destroy({ timeoutMs: 0 });

  // It started on a version whose bundle fails as it loads, in any executor.
  const broken = Buffer.from(`throw new Error('this bundle loads nowhere');\n// ${Math.random()}\n`);
  const brokenVersion = versionOf(broken);
  await sys(`INSERT INTO operon.versions (version, bundle) VALUES ($1, $2)`, [brokenVersion, broken]);
  await sys(`UPDATE operon.workflow_status SET version = $1 WHERE workflow_uuid = 'on-unloadable'`, [brokenVersion]);

  const second = await OperonRuntime.create({ config, classes: [Lane], logger: createLogger('silent') });
  runtimes.push(second);
  await second.recover();
  const other = await invoke(second, 'after-it').quick();
  // Before, it waited behind the held slot for ever.
  const waited = new Promise((resolve) => setTimeout(resolve, 15_000, 'still waiting for a slot'));
  expect(await Promise.race([other.getResult(), waited])).toBe('ran');

  const [row] = await sys(`SELECT status, owner FROM operon.workflow_status WHERE workflow_uuid = 'on-unloadable'`);
  expect(row).toEqual({ status: 'ENQUEUED', owner: null });
  const listed = (await second.systemDb.listVersions()).find((v) => v.version === brokenVersion);
  expect(listed).toMatchObject({ pending: 0, enqueued: 1 });
});
