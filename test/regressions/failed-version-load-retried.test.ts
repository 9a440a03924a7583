/**
 * Regression: a version whose load failed was remembered as unloadable for the life of the
 * process, whatever the cause: one whose bundle imported a file not there yet (a deploy still
 * writing it, a package installed a moment later) was never loaded by that process, which left
 * each of its workflows to other executors until it restarted.
 *
 * Expected: a failed load is tried again after a pause that doubles with each failure, up to a
 * bound; until the pause ends the version is left to others (no import per dequeued workflow),
 * and once its cause is gone the next load succeeds. Here the bundle's import of a file fails
 * once, the file is written, and the version loads after the pause.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OperonVersionLoadError, Workflow, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { FunctionRegistry } from '../../packages/runtime/src/executor/function-registry.js';
import { createLogger } from '../../packages/runtime/src/logging.js';
import type { SystemDatabase } from '../../packages/runtime/src/system-db/system-database.js';
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';
import { LoadedVersions } from '../../packages/runtime/src/versions/loaded-versions.js';
import { startRuntime } from '../helpers/test-databases.js';

class Nothing {
  @Workflow()
  static async nothing(_ctx: WorkflowContext): Promise<number> {
    return 1;
  }
}

const appFile = join(import.meta.dirname, '../helpers/latched-payments-app.ts');
let runtime: OperonRuntime;
let dir: string;

beforeAll(async () => {
  runtime = await startRuntime([Nothing]);
  dir = mkdtempSync(join(tmpdir(), 'operon-load-retried-'));
});

afterAll(async () => {
  await runtime?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('a version whose load failed for a passing cause loads once its pause has ended', { timeout: 30_000 }, async () => {
  const systemDb = (runtime as unknown as { systemDb: SystemDatabase }).systemDb;
  const tag = String(Math.random()).slice(2);
  const late = `late-${tag}.mjs`;
  const bundle = Buffer.from(`import { paymentsOf } from ${JSON.stringify(appFile)};\nimport './${late}';\nexport const Payments = paymentsOf(1);\n`);
  const version = versionOf(bundle);
  await systemDb.storeVersion({ version, bundle, sourceMap: null });
  const versions = new LoadedVersions(systemDb, dir, new FunctionRegistry([], null), createLogger('silent'), { firstMs: 300, maxMs: 600 });

  const first = await versions.acquire(version).then(() => undefined, (error: unknown) => error);
  versions.release(version);
  expect(first).toBeInstanceOf(OperonVersionLoadError);
  expect((first as Error).message).toContain(late);
  expect(versions.unloadable()).toEqual([version]);

  // The file arrives; within the pause the failure still answers, without importing again.
  writeFileSync(join(dir, late), 'export {};\n');
  expect(await versions.acquire(version).then(() => undefined, (error: unknown) => error)).toBe(first);
  versions.release(version);

  for (let i = 0; i < 200 && versions.unloadable().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(versions.unloadable()).toEqual([]);
  const registry = await versions.acquire(version);
  expect(registry.version).toBe(version);
  expect(versions.versions()).toContain(version);
  versions.release(version);
});
