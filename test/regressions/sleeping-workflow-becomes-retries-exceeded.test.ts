/**
 * Regression: recovery attempts start over only when a recovered run *performs* an operation
 * (WorkflowExecution.step calls `progressed` after `perform`). A healthy workflow that waits
 * (a durable sleep, a recv or getEvent with a long timeout) performs nothing after a restart: it
 * replays its recorded deadline and waits. So every crash of its process while it waits (SIGKILL,
 * OOM, a host restart, or a poisoned workflow in the same process killing it at every recovery)
 * counts against it, and after `runtimeConfig.maxRecoveryAttempts` such crashes it becomes
 * RETRIES_EXCEEDED and is never resumed, though its run never once died of itself.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture, spawnApp, type ChildApp } from '../helpers/child-app.js';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

let bundle: string;
let app: AppDir;

/** Every child this file started: killed at the end, whatever a failed assertion left running. */
const children: ChildApp[] = [];
const track = (child: ChildApp) => (children.push(child), child);

beforeAll(async () => {
  bundle = await bundleFixture('sleeping-through-crashes-child.ts');
  app = writeAppDir('sleepcrash', { runtimeConfig: { maxRecoveryAttempts: 2 }, logLevel: 'error' });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.kill()));
  app?.remove();
  if (bundle) rmSync(bundle, { force: true });
});

describe('a sleeping workflow whose process is killed now and then', () => {
  it('stays PENDING through more crashes than maxRecoveryAttempts', async () => {
    const child = (start: boolean) => track(spawnApp(bundle, { SLEEP_CONFIG: app.configPath, SLEEP_START: start ? '1' : '0' }));
    const first = child(true);
    await first.waitForLine(/^SLEEPING$/, 20_000);
    await first.kill('SIGKILL');

    const statuses: string[] = [];
    for (let crash = 1; crash <= 4; crash++) {
      const restarted = child(false);
      const line = await restarted.waitForLine(/^STATUS /, 20_000);
      statuses.push(line.slice('STATUS '.length));
      await restarted.kill('SIGKILL');
    }
    expect(statuses).toEqual(['PENDING', 'PENDING', 'PENDING', 'PENDING']);
  });
});
