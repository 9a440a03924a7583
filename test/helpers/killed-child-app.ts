/**
 * A fixture app bundled and run as child processes, for tests of what a recovered run sees: run 1
 * ends by SIGKILL in the middle of its workflows, run 2 recovers them and prints `RESULT <json>`.
 * Each run appends a line to a side log for every execution of what the test watches. The child
 * reads its config's path, its run number and the side log's path from `<ENV>_CONFIG`,
 * `<ENV>_RUN` and `<ENV>_SIDE_LOG`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { writeAppDir, type AppDir, type AppDirOptions } from './app-dir.js';
import { bundleFixture, spawnApp, type ChildApp } from './child-app.js';

export interface KilledChildApp {
  /** Starts run `run` of the child (1: it is killed; 2: it recovers). */
  start(run: number): ChildApp;
  /** The side log's lines so far, in the order they were written. */
  sideLogLines(): string[];
}

/**
 * Registers the file's beforeAll (the app folder `appPrefix`, the bundle of test/fixtures/`fixture`)
 * and afterAll: every child the file started is killed, whatever a failed assertion left running,
 * and the folder and bundle removed.
 */
export function useKilledChildApp(appPrefix: string, fixture: string, env: string, options: AppDirOptions = {}): KilledChildApp {
  let app: AppDir | undefined;
  let bundle: string | undefined;
  let dir: string | undefined;
  const children: ChildApp[] = [];
  beforeAll(async () => {
    app = writeAppDir(appPrefix, options);
    bundle = await bundleFixture(fixture);
    dir = mkdtempSync(join(tmpdir(), `operon-${appPrefix}-`));
    writeFileSync(join(dir, 'side.log'), '');
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    app?.remove();
    if (bundle) rmSync(bundle, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const ready = () => {
    if (!app || !bundle || !dir) throw new Error('useKilledChildApp: the app is prepared in beforeAll');
    return { app, bundle, sideLog: join(dir, 'side.log') };
  };
  return {
    start(run) {
      const { app, bundle, sideLog } = ready();
      const child = spawnApp(bundle, { [`${env}_CONFIG`]: app.configPath, [`${env}_RUN`]: String(run), [`${env}_SIDE_LOG`]: sideLog });
      children.push(child);
      return child;
    },
    sideLogLines: () => readFileSync(ready().sideLog, 'utf8').trim().split('\n'),
  };
}
