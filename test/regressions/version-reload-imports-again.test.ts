/**
 * A version unloaded and loaded again was imported again: every load was a new module instance,
 * and ES modules are never freed, so a process whose old version's workflows came and went kept
 * one more copy of that version's code per load (about 2 MB of heap for a 516 KB bundle, measured
 * with `pnpm bench:versions`), without bound.
 *
 * Reproduction: a runtime on v2 loads v1, releases it (unloaded), and loads it again.
 * Expected: the second load reuses the module of the first (the same classes), without a second
 * import; the version is still listed as loaded only while it is held.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { OperonRuntime } from '@operon/runtime';
import { createLogger } from '../../packages/runtime/src/logging.js';
import { testConfig } from '../helpers/test-databases.js';
import { ordersOf, versionBundle } from '../versions/check-app.js';

const dir = mkdtempSync(join(tmpdir(), 'operon-vreload-'));
const config = { ...testConfig('vreload'), appDir: dir };
const logger = createLogger('silent');
const runtimes: OperonRuntime[] = [];

afterAll(async () => {
  for (const runtime of runtimes) await runtime.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
});

it('a version loaded again after it was unloaded reuses the module imported the first time', { timeout: 60_000 }, async () => {
  const tag = String(Math.random());
  const first = await OperonRuntime.create({ config, classes: [ordersOf(1)], bundle: versionBundle(1, tag), logger });
  runtimes.push(first);
  await first.destroy({ timeoutMs: 0 });

  const second = await OperonRuntime.create({ config, classes: [ordersOf(2)], bundle: versionBundle(2, tag), logger });
  runtimes.push(second);
  const versions = second.executor.deps.versions;
  const v1 = versionBundle(1, tag).version;

  const loaded = await versions.acquire(v1);
  versions.release(v1);
  expect(versions.versions()).not.toContain(v1);
  const again = await versions.acquire(v1);
  expect(versions.versions()).toContain(v1);
  expect(again.classes).toHaveLength(1);
  expect(again.classes[0]).toBe(loaded.classes[0]);
  expect(again.version).toBe(v1);
  versions.release(v1);
});
