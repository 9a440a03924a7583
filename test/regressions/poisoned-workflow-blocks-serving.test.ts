/**
 * Regression: a workflow's recovery attempts were counted and never read, so a workflow that
 * killed its process was recovered, and killed the process, at every start: the app never served
 * again (three starts in a row died before listening). After `runtimeConfig.maxRecoveryAttempts`
 * recoveries (default 5) it becomes RETRIES_EXCEEDED, is not recovered again, and the runtime
 * starts and serves.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture, spawnApp, type ChildApp } from '../helpers/child-app.js';
import { within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let bundle: string;
let dir: string;
const apps: AppDir[] = [];

/** Every child this file started: killed at the end, whatever a failed assertion left running. */
const children: ChildApp[] = [];
const track = (child: ChildApp) => (children.push(child), child);

beforeAll(async () => {
  bundle = await bundleFixture('poisoned-recovery-child.ts');
  dir = mkdtempSync(join(tmpdir(), 'operon-poison-'));
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  for (const app of apps) app.remove();
  if (bundle) rmSync(bundle, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts the workflow, then restarts the app until a start survives (at most `maxStarts`). */
async function startUntilServing(app: AppDir, sideLog: string, maxStarts: number) {
  const child = (start: boolean) =>
    track(spawnApp(bundle, { POISON_CONFIG: app.configPath, POISON_START: start ? '1' : '0', POISON_SIDE_LOG: sideLog }));
  const first = child(true);
  expect(await within(first.exited, 20_000, 'still running after 20 s'), first.output()).toBe('SIGKILL');
  const ends: (number | string)[] = [];
  for (let start = 1; start <= maxStarts; start++) {
    const restarted = child(false);
    const end = await within(restarted.exited, 20_000, 'still running after 20 s');
    ends.push(end);
    if (end !== 'SIGKILL') return { ends, output: restarted.output() };
  }
  return { ends, output: `every one of ${maxStarts} restarts was killed by the workflow it recovered` };
}

const runsIn = (sideLog: string) => readFileSync(sideLog, 'utf8').trim().split('\n').filter(Boolean).length;

describe('a workflow that kills its process whenever it is recovered', () => {
  it('becomes RETRIES_EXCEEDED after the default 5 recoveries, and the app serves', async () => {
    const app = writeAppDir('poison5');
    apps.push(app);
    const sideLog = join(dir, 'default.log');
    writeFileSync(sideLog, '');

    const { ends, output } = await startUntilServing(app, sideLog, 8);
    expect(ends.at(-1), output).toBe(0);
    expect(output).toMatch(/^SERVED pong$/m);
    expect(output).toMatch(/^STATUS RETRIES_EXCEEDED$/m);
    expect(output).toMatch(/^REJECTED OPERON_ERR_WORKFLOW_RETRIES_EXCEEDED$/m);
    // The first run and one per recovery, up to the cap.
    expect(runsIn(sideLog)).toBeGreaterThanOrEqual(5);
    expect(runsIn(sideLog)).toBeLessThanOrEqual(6);
  });

  it('honours runtimeConfig.maxRecoveryAttempts', async () => {
    const app = writeAppDir('poison2', { runtimeConfig: { maxRecoveryAttempts: 2 } });
    apps.push(app);
    const sideLog = join(dir, 'two.log');
    writeFileSync(sideLog, '');

    const { ends, output } = await startUntilServing(app, sideLog, 5);
    expect(ends.at(-1), output).toBe(0);
    expect(output).toMatch(/^SERVED pong$/m);
    expect(output).toMatch(/^STATUS RETRIES_EXCEEDED$/m);
    expect(output).toMatch(/^REJECTED OPERON_ERR_WORKFLOW_RETRIES_EXCEEDED$/m);
    expect(runsIn(sideLog)).toBeGreaterThanOrEqual(2);
    expect(runsIn(sideLog)).toBeLessThanOrEqual(3);
  });
});
