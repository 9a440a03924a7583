/**
 * A testing runtime in another process on the same config (a second `vitest` run of the same app,
 * its workers numbered alike) is refused while the first one lives: before, it dropped and
 * recreated the first one's databases under it, whose tables and workflows silently vanished.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

const runtimeEntry = fileURLToPath(new URL('../../packages/runtime/dist/index.js', import.meta.url));
let app: TestAppDir;
let testRuntime: TestingRuntime;

beforeAll(async () => {
  app = makeAppDir('secondproc', {});
  testRuntime = await createTestingRuntime([], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('a testing runtime of another process on the same config', () => {
  it('is refused, and the first one keeps its databases', async () => {
    await testRuntime.queryUserDB('CREATE TABLE kept (x int)');
    const script = `const { createTestingRuntime } = await import(${JSON.stringify(runtimeEntry)});
      const t = await createTestingRuntime([], ${JSON.stringify(app.configPath)});
      await t.destroy();`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: process.env, encoding: 'utf8', timeout: 60_000 });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/another process's testing runtime runs on/);
    expect(await testRuntime.queryUserDB('SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }]);
  });
});
