/**
 * A version whose packages are broken on disk when an executor first loads it, and fixed there
 * later, loads in that same executor once they are fixed: no restart. Node keeps a module that
 * failed to parse or threw as it was imported for the life of the process, by URL, so each retry
 * must import the files that failed as new modules. Real `operon start` processes: v1's bundle
 * imports an ES module package and a CommonJS one from the app's node_modules; they are broken
 * (a syntax error, then a throw at top level, then the CommonJS one throws) while the executor on
 * v2 adopts v1's workflow, and each retry reports the file's new failure, not the first one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readBundle } from '@operon/runtime';
import { assertCliBuilt } from '../cli/cli-process.js';
import { killAll, post, startExecutor, type FleetProcess } from '../executors/fleet.js';
import { expectedResult, prepareVersionedApp, versionSource, type VersionedApp } from './versioned-app.js';

const running: FleetProcess[] = [];
let app: VersionedApp | undefined;

beforeAll(() => assertCliBuilt());

afterAll(async () => {
  await killAll(running);
  app?.remove();
});

async function call(executor: FleetProcess, path: string, body: Record<string, unknown>): Promise<unknown> {
  const response = await post(executor, path, body);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST ${path} answered ${response.status}: ${text}\n${executor.output()}`);
  return response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text;
}

it('a version whose dependency failed to parse or threw on import loads in the same process once the files are fixed', { timeout: 120_000 }, async () => {
  // v1 imports both packages (kept external by operon build, as any package is).
  const v1Source = `import { esmPart } from 'flaky-esm';\nimport flaky from 'flaky-cjs';\nexport const parts = [esmPart, flaky.cjsPart];\n${versionSource(1)}`;
  app = await prepareVersionedApp('vretry', v1Source);
  const v1 = readBundle(app.bundle).version;
  const esm = join(app.dir, 'node_modules', 'flaky-esm');
  const cjs = join(app.dir, 'node_modules', 'flaky-cjs');
  mkdirSync(esm, { recursive: true });
  mkdirSync(cjs, { recursive: true });
  writeFileSync(join(esm, 'package.json'), JSON.stringify({ name: 'flaky-esm', type: 'module', main: 'index.js' }));
  writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'flaky-cjs', main: 'index.js' }));
  const esmFile = join(esm, 'index.js');
  const cjsFile = join(cjs, 'index.js');
  writeFileSync(esmFile, `export const esmPart = 'esm';\n`);
  writeFileSync(cjsFile, `module.exports = { cjsPart: 'cjs' };\n`);

  const first = await startExecutor(app);
  running.push(first);
  // v1 is loaded in the first process: the next build is made meanwhile.
  const building = app.deploy(2);
  await call(first, '/start', { id: 'on-v1', kind: 'recv', seconds: 0 });
  first.signal('SIGTERM');
  expect((await first.server.exited).code, first.output()).toBe(0);
  await building;

  // Broken on disk as the next deploy starts: a half-written ES module, a CommonJS one that throws.
  writeFileSync(esmFile, `export const esmPart = ;\n`);
  writeFileSync(cjsFile, `throw new Error('flaky-cjs cannot start');\n`);
  const second = await startExecutor(app);
  running.push(second);
  const failure = (reason: string) => new RegExp(`cannot load version ${v1}: [^"]*${reason}[^"]*; trying again in`);
  await second.server.waitFor(failure('Unexpected token'), 30_000);
  // Each retry reads the files again: a new failure, not the first one kept.
  writeFileSync(esmFile, `throw new Error('flaky-esm cannot start');\nexport const esmPart = 'esm';\n`);
  await second.server.waitFor(failure('flaky-esm cannot start'), 30_000);
  writeFileSync(esmFile, `export const esmPart = 'esm';\n`);
  await second.server.waitFor(failure('flaky-cjs cannot start'), 30_000);
  writeFileSync(cjsFile, `module.exports = { cjsPart: 'cjs' };\n`);
  await second.server.waitFor(new RegExp(`loaded version ${v1} beside`), 30_000);

  // The same process (Node's second report of the CommonJS throw did not end it) runs v1's workflow on v1.
  await call(second, '/go', { id: 'on-v1' });
  expect(await call(second, '/result', { id: 'on-v1' })).toBe(expectedResult(1, 'on-v1'));
  expect(second.server.child.exitCode).toBeNull();
});
