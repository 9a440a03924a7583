/**
 * Regression: a workflow's first run saw its arguments as the caller passed them, a recovered run
 * saw their stored form: a Date became a string, a Map `{}`, and an `undefined` argument `null`,
 * so a defaulted parameter lost its default. The same code took other branches after a crash. The
 * first run now sees its inputs in the stored form too: both runs see the same values.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture, spawnApp, type ChildApp } from '../helpers/child-app.js';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let app: AppDir;
let bundle: string;
let dir: string;

/** Every child this file started: killed at the end, whatever a failed assertion left running. */
const children: ChildApp[] = [];
const track = (child: ChildApp) => (children.push(child), child);

beforeAll(async () => {
  app = writeAppDir('storedform');
  bundle = await bundleFixture('stored-form-child.ts');
  dir = mkdtempSync(join(tmpdir(), 'operon-stored-form-'));
  writeFileSync(join(dir, 'side.log'), '');
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  app?.remove();
  if (bundle) rmSync(bundle, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a workflow’s arguments, on its first run and on a recovered run', () => {
  it('are the same values of the same types: a Date, a Map and a defaulted parameter', async () => {
    const sideLog = join(dir, 'side.log');
    const child = (run: number) => track(spawnApp(bundle, { STORED_CONFIG: app.configPath, STORED_RUN: String(run), STORED_SIDE_LOG: sideLog }));

    const first = child(1);
    expect(await within(first.exited, 20_000, 'still running after 20 s'), first.output()).toBe('SIGKILL');
    const second = child(2);
    await second.waitForLine(/^RESULT /, 20_000);
    expect(await within(second.exited, 20_000, 'still running after 20 s'), second.output()).toBe(0);

    const executions = readFileSync(sideLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { run: number; seen: unknown });
    expect(executions.map((e) => e.run)).toEqual([1, 2]);
    const [firstRun, recoveredRun] = executions.map((e) => e.seen);
    expect(firstRun).toEqual(recoveredRun);
  });
});
